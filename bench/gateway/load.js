// One k6 run of the gateway benchmark: GET BENCH_URL at a fixed arrival rate (constant-arrival-rate
// starts iterations on schedule whether or not earlier ones have finished, so a stall shows up as
// latency or as dropped iterations instead of hiding: no coordinated omission).
// Run by bench/gateway/k6.py, which sets the BENCH_* variables and reads the summary JSON BENCH_SUMMARY names.
import http from "k6/http";

const url = __ENV.BENCH_URL;
const params = { headers: { Authorization: `Bearer ${__ENV.BENCH_TOKEN}` } };

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["avg", "p(50)", "p(90)", "p(99)", "max"],
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
  http.get(url, params);
}

export function handleSummary(data) {
  return { [__ENV.BENCH_SUMMARY]: JSON.stringify(data) };
}
