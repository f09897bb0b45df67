// npm run bench: figures, not pass/fail.
import { benchCorpus } from "./corpus";
import { benchPlan } from "./plan";

benchCorpus();
benchPlan().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
