module i2kit/agent

go 1.22
