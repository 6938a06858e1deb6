// One k6 run of the catalogue benchmark: GET BENCH_URL + one path of the JSON list BENCH_PATHS per
// iteration, the paths in turn (iteration n of the run takes path BENCH_OFFSET + n modulo their
// number, so consecutive runs continue the cycle), at a fixed arrival rate (constant-arrival-rate: no coordinated omission, as in bench/gateway/load.js).
// Run by bench/catalogue/k6_paths.py, which sets the BENCH_* variables and reads the summary JSON.
import http from "k6/http";
import exec from "k6/execution";
import { SharedArray } from "k6/data";

const base = __ENV.BENCH_URL;
const paths = new SharedArray("paths", () => JSON.parse(open(__ENV.BENCH_PATHS)));
const offset = Number(__ENV.BENCH_OFFSET);
// Every request carries the same name: thousands of distinct URLs stay one time series.
const params = { tags: { name: "paths" } };

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["avg", "p(50)", "p(90)", "p(99)", "max"],
  systemTags: ["status", "method", "name", "scenario", "expected_response", "error", "error_code"],
  scenarios: {
    load: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.BENCH_RATE),
      timeUnit: "1s",
      duration: `${__ENV.BENCH_SECONDS}s`,
      preAllocatedVUs: Number(__ENV.BENCH_PREALLOCATED_VUS),
      maxVUs: Number(__ENV.BENCH_MAX_VUS),
      gracefulStop: "2s",
    },
  },
};

export default function () {
  http.get(base + paths[(offset + exec.scenario.iterationInTest) % paths.length], params);
}

export function handleSummary(data) {
  return { [__ENV.BENCH_SUMMARY]: JSON.stringify(data) };
}
