// npm run bench: figures, not pass/fail.
// This package pins its AWS SDK; its notice about future Node versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { benchAgent } from "./agent";
import { benchAmi } from "./ami";
import { benchCorpus } from "./corpus";
import { benchPlan } from "./plan";
import { benchVm } from "./vm";

benchCorpus();
benchPlan()
  .then(benchAmi)
  .then(benchVm)
  .then(benchAgent)
  .then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
