// Managed by the channels-bench loadtest role; changes here are overwritten.
//
// One measurement with loadtest's JavaScript API (its CLI prints text only):
//   node driver.mjs '<spec as JSON>'
// A warm-up at the same rate (or client count) runs first and is not counted; then the measured
// run, whose full Result (histogramMs included) is written as JSON to spec.output, created
// exclusively (an existing file is an error, never overwritten), and printed on stdout.
//
// spec: {url, test: "latency"|"throughput", rps (latency), clients (throughput), duration_s,
//        warmup_s, keepalive, request_timeout_ms, max_requests, host, cpus, output,
//        start_at (optional: UTC epoch seconds at which the warm-up starts, so that several
//        source hosts load the target together)}
//
// Latency test: a fixed requestsPerSecond (loadtest then ignores concurrency). Throughput test:
// a closed loop of `clients` concurrent clients and no rate. Both stop after duration_s seconds
// or max_requests requests, whichever comes first.

import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {loadTest} from 'loadtest'

const here = dirname(fileURLToPath(import.meta.url))
// A start further away than this is a mistake in the caller, not a plan.
const MAX_START_WAIT_S = 120

function fail(message) {
  console.error(`loadtest driver: ${message}`)
  process.exit(2)
}

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value)
}

function isCount(value) {
  return Number.isInteger(value) && value >= 1
}

function readSpec(argument) {
  if (!argument) {
    fail("usage: node driver.mjs '<spec as JSON>'")
  }
  let spec
  try {
    spec = JSON.parse(argument)
  } catch (error) {
    fail(`the spec is not JSON: ${error.message}`)
  }
  const problems = []
  if (typeof spec.url !== 'string' || !/^https?:\/\//.test(spec.url)) {
    problems.push(`url must be an http:// or https:// URL, not ${JSON.stringify(spec.url)}`)
  }
  if (spec.test === 'latency') {
    if (!isNumber(spec.rps) || spec.rps <= 0) {
      problems.push(`the latency test needs rps above 0, not ${JSON.stringify(spec.rps)}`)
    }
  } else if (spec.test === 'throughput') {
    if (!isCount(spec.clients)) {
      problems.push(`the throughput test needs clients, a whole number of at least 1, not ${JSON.stringify(spec.clients)}`)
    }
  } else {
    problems.push(`test must be latency or throughput, not ${JSON.stringify(spec.test)}`)
  }
  if (!isNumber(spec.duration_s) || spec.duration_s <= 0) {
    problems.push(`duration_s must be above 0, not ${JSON.stringify(spec.duration_s)}`)
  }
  if (!isNumber(spec.warmup_s) || spec.warmup_s < 0) {
    problems.push(`warmup_s must be 0 or more, not ${JSON.stringify(spec.warmup_s)}`)
  }
  if (!isCount(spec.request_timeout_ms)) {
    problems.push(`request_timeout_ms must be a whole number of at least 1, not ${JSON.stringify(spec.request_timeout_ms)}`)
  }
  if (!isCount(spec.max_requests)) {
    problems.push(`max_requests must be a whole number of at least 1, not ${JSON.stringify(spec.max_requests)}`)
  }
  if (typeof spec.output !== 'string' || !spec.output.startsWith('/')) {
    problems.push(`output must be an absolute path, not ${JSON.stringify(spec.output)}`)
  }
  if (spec.start_at !== undefined && spec.start_at !== null && !isNumber(spec.start_at)) {
    problems.push(`start_at must be epoch seconds or null, not ${JSON.stringify(spec.start_at)}`)
  }
  if (problems.length) {
    fail(problems.join('; '))
  }
  return spec
}

function loadtestOptions(spec, seconds, maxRequests) {
  const options = {
    url: spec.url,
    maxSeconds: seconds,
    maxRequests,
    timeout: spec.request_timeout_ms,
    agentKeepAlive: Boolean(spec.keepalive),
    quiet: true,
  }
  if (spec.test === 'latency') {
    options.requestsPerSecond = spec.rps
  } else {
    options.concurrency = spec.clients
  }
  return options
}

// max_requests bounds the measured run by count as well as by time; the warm-up gets the same
// bound scaled to its length.
function requestBound(spec, seconds) {
  return Math.max(1, Math.ceil(spec.max_requests * seconds / spec.duration_s))
}

function sleep(milliseconds) {
  return new Promise(resolve => setTimeout(resolve, milliseconds))
}

function loadtestVersion() {
  try {
    const file = join(here, 'node_modules', 'loadtest', 'package.json')
    return JSON.parse(readFileSync(file, 'utf8')).version
  } catch {
    return null
  }
}

// A Result is a class instance; keep only its data, as JSON.stringify would.
function plain(result) {
  return JSON.parse(JSON.stringify(result))
}

async function main() {
  const spec = readSpec(process.argv[2])
  // Refuse before any load, not after: a result must never replace another.
  if (existsSync(spec.output)) {
    fail(`${spec.output} exists already; a result is never overwritten`)
  }
  mkdirSync(dirname(spec.output), {recursive: true})

  let startLagMs = null
  if (isNumber(spec.start_at)) {
    const waitMs = spec.start_at * 1000 - Date.now()
    if (waitMs > MAX_START_WAIT_S * 1000) {
      fail(`start_at is ${Math.round(waitMs / 1000)} s away (more than ${MAX_START_WAIT_S} s): check the clocks`)
    }
    if (waitMs > 0) {
      await sleep(waitMs)
    }
    startLagMs = Date.now() - spec.start_at * 1000
  }

  let warmup = null
  if (spec.warmup_s > 0) {
    const result = plain(await loadTest(loadtestOptions(spec, spec.warmup_s, requestBound(spec, spec.warmup_s))))
    warmup = {
      seconds: spec.warmup_s,
      totalRequests: result.totalRequests,
      totalErrors: result.totalErrors,
      effectiveRps: result.effectiveRps,
      errorCodes: result.errorCodes,
    }
  }

  const maxRequests = spec.max_requests
  const cpuBefore = process.cpuUsage()
  const wallBefore = process.hrtime.bigint()
  const startedAt = new Date()
  const result = plain(await loadTest(loadtestOptions(spec, spec.duration_s, maxRequests)))
  const endedAt = new Date()
  const wallMicros = Number(process.hrtime.bigint() - wallBefore) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const cpuPercent = wallMicros > 0 ? Math.round((cpu.user + cpu.system) / wallMicros * 1000) / 10 : null

  const document = {
    host: spec.host ?? null,
    test: spec.test,
    url: spec.url,
    rps: spec.test === 'latency' ? spec.rps : null,
    clients: spec.test === 'throughput' ? spec.clients : null,
    duration_s: spec.duration_s,
    warmup_s: spec.warmup_s,
    keepalive: Boolean(spec.keepalive),
    request_timeout_ms: spec.request_timeout_ms,
    max_requests: maxRequests,
    started_at: startedAt.toISOString(),
    ended_at: endedAt.toISOString(),
    start_lag_ms: startLagMs,
    warmup,
    loadtest: result,
    generator: {
      // CPU time of this process (loadtest runs in it) over the measured wall time, as a share
      // of one core: near 100 the generator, not the server, set the pace.
      cpu_percent: cpuPercent,
      cpu_user_s: cpu.user / 1e6,
      cpu_system_s: cpu.system / 1e6,
      cpus: spec.cpus || null,
      node_version: process.version,
      loadtest_version: loadtestVersion(),
    },
  }
  writeFileSync(spec.output, JSON.stringify(document) + '\n', {flag: 'wx', mode: 0o644})
  // The same document on stdout, one line: the caller need not fetch the file.
  console.log(JSON.stringify(document))
}

// Requests still in flight when the measured run stops would keep node alive until their
// timeout: the result is written, so leave at once.
main().then(() => process.exit(0), error => fail(error?.stack || String(error)))
