// Prints the suite's tests as JSON (id, kind, browser_only), as bench/cache_tests_report.py counts them.
import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

tests.push(surrogate)
const out = []
for (const suite of tests) {
  for (const test of suite.tests) {
    out.push({ id: test.id, suite: suite.id, name: test.name, kind: test.kind || 'required', browser_only: test.browser_only === true, depends_on: test.depends_on || [] })
  }
}
console.log(JSON.stringify(out))
