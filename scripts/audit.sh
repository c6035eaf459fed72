#!/usr/bin/env sh
# Dependency audit of what ships (production dependencies only). Prints npm's JSON report and a one-line summary;
# exits non-zero when npm finds high or critical vulnerabilities, or when the registry cannot be reached.
set -u
cd "$(dirname "$0")/.."
out="$(npm audit --omit=dev --json 2>/dev/null)"
status=$?
if [ -z "$out" ]; then
  echo "npm audit produced no report (registry unreachable?), exit $status" >&2
  exit 2
fi
printf '%s\n' "$out"
printf '%s' "$out" | node -e '
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const r = JSON.parse(s);
  if (r.error) { console.error(`npm audit failed: ${r.message ?? r.error.code ?? ""} ${r.error.summary ?? ""}`.trim()); process.exit(2); }
  const v = r.metadata?.vulnerabilities ?? {};
  const deps = r.metadata?.dependencies ?? {};
  console.error(`audit ${new Date().toISOString()}: ${deps.prod ?? "?"} production dependencies; vulnerabilities: info ${v.info ?? 0}, low ${v.low ?? 0}, moderate ${v.moderate ?? 0}, high ${v.high ?? 0}, critical ${v.critical ?? 0}`);
  process.exit((v.high ?? 0) + (v.critical ?? 0) > 0 ? 1 : 0);
});'
