// Managed by the channels-bench loadtest role; changes here are overwritten.
//
// A series of measurements of one setup in one node process, with loadtest's JavaScript API (its
// CLI prints text only) and an exact instrument around it:
//   node driver.mjs SPEC_FILE            (or the spec itself as inline JSON)
//   node driver.mjs --check SPEC_FILE    validate only; print {measurements, expected_s, bound_s}
// README.md of the role describes the spec, the documents and the progress lines.
//
// Per measurement: settle (probe the URL until it answers promptly), wait for start_at, warm-up
// at the same rate or clients (not counted), the measured run, the tail (requests still in flight
// when loadtest stops are waited for, up to the request timeout), then the document is written
// to output_dir/output atomically and never over another, printed on stdout as one line, and a
// progress line is appended.
//
// The instrument: loadtest's requestGenerator hook wraps every request, so each one is timed from
// a monotonic clock into HdrHistograms (microseconds, 3 significant digits). At a fixed rate the
// i-th request of the measured run was due at t0 + i/rps, as wrk2 counts, with t0 the schedule's
// phase: the median of the sends against one-per-interval (loadtest's millisecond timer scatters
// sends about a millisecond either side of their time). latency_corrected is timed from then,
// latency_uncorrected from the actual send, send_lag is the difference. loadtest's own Result is
// kept unchanged under `loadtest`.
//
// Exit status: 0 done; 2 a bad spec or an output that exists (before any load); 3 the heartbeat
// went stale (the controller is gone); 130 SIGTERM or SIGINT; 1 any other failure. Documents
// already written stay.

import {spawn, spawnSync} from 'node:child_process'
import {
  appendFileSync, existsSync, linkSync, mkdirSync, readFileSync, realpathSync, statSync, unlinkSync,
  writeFileSync,
} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import {basename, dirname, isAbsolute, join, normalize} from 'node:path'
import {monitorEventLoopDelay} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'
import {build as buildHistogram, encodeIntoCompressedBase64} from 'hdr-histogram-js'
import {loadTest} from 'loadtest'

const here = dirname(fileURLToPath(import.meta.url))

const FIXED_RATE_TESTS = new Set(['latency', 'sweep', 'calibrate'])
const CLOSED_LOOP_TESTS = new Set(['throughput'])
const TESTS = ['latency', 'throughput', 'sweep', 'calibrate', 'reference']
// A start further away than this is a mistake in the caller (or its clock), not a plan.
const MAX_START_WAIT_S = 120
const SIGNIFICANT_DIGITS = 3
// The longest latency the histograms hold without growing: an hour in microseconds.
const HISTOGRAM_CEILING_US = 3600e6
const TIMELINE_BIN_S = 0.1
// monitorEventLoopDelay samples with a timer of this period; node records the whole period
// between samples, so the delay is what exceeds it.
const EVENT_LOOP_RESOLUTION_MS = 1
// Ranks read back from node's event-loop histogram to rebuild it as an HdrHistogram.
const MAX_EVENT_LOOP_RANKS = 200000
// How often the heartbeat file is looked at, and the pause between two settle probes.
const HEARTBEAT_CHECK_MS = 1000
const SETTLE_PAUSE_MS = 100
// The warm-up tail's probe, when the series has no settle step of its own.
const DEFAULT_PROBE_TIMEOUT_MS = 2000
// A warm-up request the server has lost (recorder.drainWarmUp): open this many times as long as
// the slowest answer its warm-up got, and at least LOST_MIN_MS; how often that is looked at.
const LOST_AFTER_SLOWEST = 2
const LOST_MIN_MS = 1000
const LOST_CHECK_MS = 50
// Seconds of a measurement's bound beyond its parts, for node's and wrk's own start and stop.
const MEASUREMENT_SLACK_S = 3
const SERIES_SLACK_S = 5

const EXIT = {failed: 1, badSpec: 2, heartbeat: 3, interrupted: 130}

class Fatal extends Error {
  constructor(message, status = EXIT.failed) {
    super(message)
    this.status = status
  }
}

// ---------------------------------------------------------------- the spec

const SERIES_KEYS = [
  'url', 'host', 'cpus', 'keepalive', 'request_timeout_ms', 'max_request_rate', 'output_dir',
  'progress', 'heartbeat', 'settle', 'wrk', 'measurements',
]
const MEASUREMENT_KEYS = [
  'test', 'rep', 'rps', 'fraction', 'clients', 'duration_s', 'warmup_s', 'output', 'start_at', 'url',
  // Test hook, never set by the role: {every_ms, block_ms} blocks the event loop for block_ms
  // every every_ms during the measured run, so that tests can starve the generator on purpose.
  'test_starve',
]
const SERIES_DEFAULTS = {
  host: null, cpus: null, keepalive: false, request_timeout_ms: 10000, max_request_rate: 100000,
  progress: null, heartbeat: null, settle: {probe_timeout_ms: 2000, max_wait_s: 60}, wrk: null,
}
const MEASUREMENT_DEFAULTS = {
  rep: null, rps: null, fraction: null, clients: null, warmup_s: 0, start_at: null, url: null,
  test_starve: null,
}

const show = value => JSON.stringify(value)
const isNumber = value => typeof value === 'number' && Number.isFinite(value)
const isCount = value => Number.isInteger(value) && value >= 1
const isUrl = value => typeof value === 'string' && /^https?:\/\/[^/]/.test(value)
const isAbsolutePath = value => typeof value === 'string' && isAbsolute(value)

function unknownKeys(object, known, where, problems) {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      problems.push(`${where}: unknown key ${show(key)} (valid: ${known.join(', ')})`)
    }
  }
}

function readSpecText(argument) {
  if (!argument) {
    throw new Fatal('usage: node driver.mjs [--check] SPEC_FILE | \'<spec as JSON>\'', EXIT.badSpec)
  }
  if (argument.trimStart().startsWith('{')) {
    return argument
  }
  try {
    return readFileSync(argument, 'utf8')
  } catch (error) {
    throw new Fatal(`cannot read the spec file ${argument}: ${error.message}`, EXIT.badSpec)
  }
}

function parseSpec(text) {
  let spec
  try {
    spec = JSON.parse(text)
  } catch (error) {
    throw new Fatal(`the spec is not JSON: ${error.message}`, EXIT.badSpec)
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new Fatal('the spec must be a JSON object', EXIT.badSpec)
  }
  return spec
}

function checkSeries(spec, problems) {
  unknownKeys(spec, SERIES_KEYS, 'spec', problems)
  if (!isUrl(spec.url)) {
    problems.push(`url must be an http:// or https:// URL, not ${show(spec.url)}`)
  }
  if (spec.host !== null && typeof spec.host !== 'string') {
    problems.push(`host must be a string or null, not ${show(spec.host)}`)
  }
  if (spec.cpus !== null && (typeof spec.cpus !== 'string' || !/^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/.test(spec.cpus))) {
    problems.push(`cpus must be a taskset CPU list such as "1" or null, not ${show(spec.cpus)}`)
  }
  if (typeof spec.keepalive !== 'boolean') {
    problems.push(`keepalive must be true or false, not ${show(spec.keepalive)}`)
  }
  if (!isCount(spec.request_timeout_ms)) {
    problems.push(`request_timeout_ms must be a whole number of at least 1, not ${show(spec.request_timeout_ms)}`)
  }
  if (!isNumber(spec.max_request_rate) || spec.max_request_rate <= 0) {
    problems.push(`max_request_rate must be above 0, not ${show(spec.max_request_rate)}`)
  }
  if (!isAbsolutePath(spec.output_dir)) {
    problems.push(`output_dir must be an absolute path, not ${show(spec.output_dir)}`)
  }
  if (spec.progress !== null && !isAbsolutePath(spec.progress)) {
    problems.push(`progress must be an absolute path or null, not ${show(spec.progress)}`)
  }
  checkHeartbeat(spec.heartbeat, problems)
  checkSettle(spec.settle, problems)
  checkWrk(spec.wrk, problems)
}

function checkHeartbeat(heartbeat, problems) {
  if (heartbeat === null) {
    return
  }
  if (typeof heartbeat !== 'object' || Array.isArray(heartbeat)) {
    problems.push(`heartbeat must be {path, stale_s} or null, not ${show(heartbeat)}`)
    return
  }
  unknownKeys(heartbeat, ['path', 'stale_s'], 'heartbeat', problems)
  if (!isAbsolutePath(heartbeat.path)) {
    problems.push(`heartbeat.path must be an absolute path, not ${show(heartbeat.path)}`)
  }
  if (!isNumber(heartbeat.stale_s) || heartbeat.stale_s <= 0) {
    problems.push(`heartbeat.stale_s must be above 0 seconds, not ${show(heartbeat.stale_s)}`)
  }
}

function checkSettle(settle, problems) {
  if (settle === null) {
    return
  }
  if (typeof settle !== 'object' || Array.isArray(settle)) {
    problems.push(`settle must be {probe_timeout_ms, max_wait_s} or null, not ${show(settle)}`)
    return
  }
  unknownKeys(settle, ['probe_timeout_ms', 'max_wait_s'], 'settle', problems)
  if (!isCount(settle.probe_timeout_ms)) {
    problems.push(`settle.probe_timeout_ms must be a whole number of at least 1, not ${show(settle.probe_timeout_ms)}`)
  }
  if (!isNumber(settle.max_wait_s) || settle.max_wait_s < 0) {
    problems.push(`settle.max_wait_s must be 0 or more seconds, not ${show(settle.max_wait_s)}`)
  }
}

function checkWrk(wrk, problems) {
  if (wrk === null) {
    return
  }
  if (typeof wrk !== 'object' || Array.isArray(wrk)) {
    problems.push(`wrk must be {path, threads} or null, not ${show(wrk)}`)
    return
  }
  unknownKeys(wrk, ['path', 'threads'], 'wrk', problems)
  if (typeof wrk.path !== 'string' || !wrk.path) {
    problems.push(`wrk.path must be the wrk program (a name on PATH or a path), not ${show(wrk.path)}`)
  }
  if (!isCount(wrk.threads)) {
    problems.push(`wrk.threads must be a whole number of at least 1, not ${show(wrk.threads)}`)
  }
}

// A relative path that stays inside output_dir, normalized so that two spellings of one file
// are seen as one.
function outputProblem(output) {
  if (typeof output !== 'string' || !output || isAbsolute(output)) {
    return `output must be a path relative to output_dir, not ${show(output)}`
  }
  const parts = normalize(output).split('/')
  if (parts.includes('..') || parts.at(-1) === '' || parts.at(-1) === '.') {
    return `output must name a file inside output_dir, not ${show(output)}`
  }
  return null
}

function checkMeasurement(m, where, problems, state) {
  unknownKeys(m, MEASUREMENT_KEYS, where, problems)
  if (!TESTS.includes(m.test)) {
    problems.push(`${where}: test must be one of ${TESTS.join(', ')}, not ${show(m.test)}`)
    return
  }
  if (m.test !== 'reference' && !isCount(m.rep)) {
    problems.push(`${where}: rep must be a whole number of at least 1, not ${show(m.rep)}`)
  }
  if (m.rep !== null && m.test === 'reference' && !isCount(m.rep)) {
    problems.push(`${where}: rep must be a whole number of at least 1 or null, not ${show(m.rep)}`)
  }
  checkLoadShape(m, where, problems, state)
  if (!isNumber(m.duration_s) || m.duration_s <= 0) {
    problems.push(`${where}: duration_s must be above 0, not ${show(m.duration_s)}`)
  } else if (m.test === 'reference' && !Number.isInteger(m.duration_s)) {
    problems.push(`${where}: wrk runs for whole seconds; duration_s must be a whole number, not ${show(m.duration_s)}`)
  }
  if (!isNumber(m.warmup_s) || m.warmup_s < 0) {
    problems.push(`${where}: warmup_s must be 0 or more, not ${show(m.warmup_s)}`)
  } else if (m.test === 'reference' && m.warmup_s > 0) {
    problems.push(`${where}: the reference (wrk) has no warm-up; warmup_s must be 0, not ${show(m.warmup_s)}`)
  }
  const problem = outputProblem(m.output)
  if (problem) {
    problems.push(`${where}: ${problem}`)
  }
  if (m.start_at !== null && !isNumber(m.start_at)) {
    problems.push(`${where}: start_at must be epoch seconds or null, not ${show(m.start_at)}`)
  }
  if (m.url !== null && !isUrl(m.url)) {
    problems.push(`${where}: url must be an http:// or https:// URL or null, not ${show(m.url)}`)
  }
  const hook = m.test_starve
  if (hook !== null && !(isNumber(hook?.every_ms) && isNumber(hook?.block_ms)
      && hook.block_ms > 0 && hook.block_ms < hook.every_ms)) {
    problems.push(`${where}: test_starve (a test hook) must be {every_ms, block_ms} with 0 < block_ms < every_ms, or null, not ${show(hook)}`)
  }
}

function checkLoadShape(m, where, problems, state) {
  if (m.test === 'sweep') {
    const byRate = m.rps !== null
    const byFraction = m.fraction !== null
    if (byRate === byFraction) {
      problems.push(`${where}: a sweep needs exactly one of rps and fraction, not rps=${show(m.rps)} fraction=${show(m.fraction)}`)
    } else if (byRate && (!isNumber(m.rps) || m.rps <= 0)) {
      problems.push(`${where}: rps must be above 0, not ${show(m.rps)}`)
    } else if (byFraction && (!isNumber(m.fraction) || m.fraction <= 0)) {
      problems.push(`${where}: fraction must be above 0, not ${show(m.fraction)}`)
    } else if (byFraction && !state.throughputSeen) {
      problems.push(`${where}: a sweep by fraction needs a throughput measurement before it in the series (its capacity)`)
    }
  } else if (FIXED_RATE_TESTS.has(m.test)) {
    if (!isNumber(m.rps) || m.rps <= 0) {
      problems.push(`${where}: the ${m.test} test needs rps above 0, not ${show(m.rps)}`)
    }
  } else if (!isCount(m.clients)) {
    problems.push(`${where}: the ${m.test} test needs clients, a whole number of at least 1, not ${show(m.clients)}`)
  }
  if (FIXED_RATE_TESTS.has(m.test) && m.clients !== null) {
    problems.push(`${where}: the ${m.test} test runs at a fixed rate; clients must be null, not ${show(m.clients)}`)
  }
  if (!FIXED_RATE_TESTS.has(m.test) && (m.rps !== null || m.fraction !== null)) {
    problems.push(`${where}: the ${m.test} test is a closed loop; rps and fraction must be null`)
  }
  if (CLOSED_LOOP_TESTS.has(m.test)) {
    state.throughputSeen = true
  }
}

// Every problem of the spec at once, or the spec with its defaults filled in.
function validate(raw) {
  const spec = {...SERIES_DEFAULTS, ...raw}
  const problems = []
  checkSeries(spec, problems)
  if (!Array.isArray(spec.measurements) || spec.measurements.length === 0) {
    problems.push(`measurements must be a non-empty list, not ${show(spec.measurements)}`)
    throw new Fatal(problems.join('\n'), EXIT.badSpec)
  }
  const state = {throughputSeen: false}
  const outputs = new Map()
  spec.measurements = spec.measurements.map((entry, index) => {
    const where = `measurements[${index}]`
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${where} must be an object, not ${show(entry)}`)
      return entry
    }
    const m = {...MEASUREMENT_DEFAULTS, ...entry}
    checkMeasurement(m, where, problems, state)
    if (m.test === 'reference' && spec.wrk === null) {
      problems.push(`${where}: a reference measurement needs wrk (the series' wrk is null)`)
    }
    if (typeof m.output === 'string' && !outputProblem(m.output)) {
      const key = normalize(m.output)
      if (outputs.has(key)) {
        problems.push(`${where}: output ${show(m.output)} is also the output of measurements[${outputs.get(key)}]`)
      }
      outputs.set(key, index)
    }
    return m
  })
  if (!problems.length) {
    checkStarts(spec, problems)
    checkOutputsAreNew(spec, problems)
  }
  if (problems.length) {
    throw new Fatal(problems.join('\n'), EXIT.badSpec)
  }
  return spec
}

// A start_at further away than the measurements before it can take, plus the longest wait, is a
// mistake: refuse it before any load.
function checkStarts(spec, problems) {
  let before = 0
  spec.measurements.forEach((m, index) => {
    if (m.start_at !== null) {
      const away = m.start_at - Date.now() / 1000
      if (away > MAX_START_WAIT_S + before) {
        problems.push(`measurements[${index}]: start_at is ${Math.round(away)} s away (more than ${MAX_START_WAIT_S} s): check the clocks`)
      }
    }
    before += measurementBound(spec, m)
  })
}

// A result is never overwritten: refuse before any load when one exists.
function checkOutputsAreNew(spec, problems) {
  spec.measurements.forEach((m, index) => {
    const path = join(spec.output_dir, m.output)
    if (existsSync(path)) {
      problems.push(`measurements[${index}]: ${path} exists already; a result is never overwritten`)
    }
  })
}

// ---------------------------------------------------------------- bounds

function settleBound(spec) {
  return spec.settle === null ? 0 : spec.settle.max_wait_s + spec.settle.probe_timeout_ms / 1000
}

function wrkTimeoutS(spec) {
  return Math.ceil(spec.request_timeout_ms / 1000)
}

// The longest a measurement may take: every wait it may do, each run with its tail.
function measurementBound(spec, m) {
  const timeoutS = spec.request_timeout_ms / 1000
  const start = m.start_at === null ? 0 : MAX_START_WAIT_S
  const load = m.test === 'reference'
    ? m.duration_s + wrkTimeoutS(spec)
    : (m.warmup_s > 0 ? m.warmup_s + timeoutS : 0) + m.duration_s + timeoutS
  return settleBound(spec) + start + load + MEASUREMENT_SLACK_S
}

// What it takes when all goes well: the load itself, and a little for each start and stop.
function measurementExpected(m) {
  return m.warmup_s + m.duration_s + 0.5
}

function seriesBound(spec) {
  return Math.ceil(spec.measurements.reduce((sum, m) => sum + measurementBound(spec, m), SERIES_SLACK_S))
}

function seriesExpected(spec) {
  return Math.ceil(spec.measurements.reduce((sum, m) => sum + measurementExpected(m), 1))
}

// ---------------------------------------------------------------- histograms

function newHistogram() {
  return buildHistogram({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HISTOGRAM_CEILING_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
  })
}

// A histogram of microseconds that also keeps the exact sum, for an exact mean.
class Recording {
  constructor() {
    this.histogram = newHistogram()
    this.sum = 0
  }

  record(microseconds) {
    const value = Math.max(0, Math.round(microseconds))
    this.histogram.recordValue(value)
    this.sum += value
  }

  recordCount(microseconds, count) {
    const value = Math.max(0, Math.round(microseconds))
    this.histogram.recordValueWithCount(value, count)
    this.sum += value * count
  }

  summary() {
    const h = this.histogram
    const count = h.totalCount
    const at = percentile => (count ? valueAtPercentile(h, percentile) : null)
    return {
      encoded: encodeIntoCompressedBase64(h),
      count,
      mean: count ? round(this.sum / count, 1) : null,
      min: count ? (h.getCountAtIndex(0) > 0 ? 0 : h.minNonZeroValue) : null,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      'p99.9': at(99.9),
      max: count ? h.maxValue : null,
    }
  }
}

// The value at a percentile exactly as the Python side reads it from the encoded histogram
// (hdrh 0.10's HdrHistogram.get_value_at_percentile): the count to reach is rounded to the
// nearest whole count, where HdrHistogram's Java and JS round it up; the two can differ by one
// rank, and the summary must be what analysis computes from `encoded`.
function valueAtPercentile(h, percentile) {
  const target = Math.max(Math.floor(Math.min(percentile, 100) * h.totalCount / 100 + 0.5), 1)
  let total = 0
  for (let index = 0; index < h.countsArrayLength; index++) {
    total += h.getCountAtIndex(index)
    if (total >= target) {
      return h.highestEquivalentValue(h.valueFromIndex(index))
    }
  }
  return 0
}

// node's event-loop histogram cannot be exported: read it back rank by rank (it is an
// HdrHistogram of 3 significant digits itself, so each rank's value is its bucket's) and record
// each as the delay beyond the sampling period, in microseconds.
function eventLoopRecording(monitor) {
  const recording = new Recording()
  const count = monitor.count
  if (!count) {
    return recording
  }
  const ranks = Math.min(count, MAX_EVENT_LOOP_RANKS)
  const weight = count / ranks
  const periodNs = EVENT_LOOP_RESOLUTION_MS * 1e6
  const values = new Map()
  for (let rank = 0; rank < ranks; rank++) {
    const value = monitor.percentile(100 * (rank + 0.5) / ranks)
    values.set(value, (values.get(value) || 0) + 1)
  }
  let recorded = 0
  const entries = [...values.entries()].sort((a, b) => a[0] - b[0])
  entries.forEach(([value, hits], index) => {
    const share = Math.max(0, index === entries.length - 1 ? count - recorded : Math.round(hits * weight))
    recorded += share
    recording.recordCount(Math.max(0, value - periodNs) / 1000, share)
  })
  return recording
}

// ---------------------------------------------------------------- one loadtest run, instrumented

const nowNs = () => process.hrtime.bigint()

// Every request of one loadtest run, from its send to its first ending (a response's end, an
// error, a timeout), counted once. `measured` records latencies; a warm-up only keeps track of
// what is in flight, to wait for it.
class Recorder {
  constructor({measured, rps}) {
    this.measured = measured
    this.intervalNs = rps ? 1e9 / rps : null
    this.t0 = null
    this.stopNs = null
    this.inFlight = new Set()
    this.sent = 0
    this.completed = 0
    this.responses = 0
    this.errors = 0
    this.errorCodes = {}
    this.timeouts = 0
    this.completedBeforeStop = 0
    this.inFlightAtStop = null
    this.abandoned = 0
    this.peakInFlight = 0
    this.uncorrected = new Recording()
    this.corrected = rps ? new Recording() : null
    this.sendLag = rps ? new Recording() : null
    // At a fixed rate: each measured send's offset from the schedule, and each response's
    // latency with its send's offset, recorded once the schedule's phase is known.
    this.offsets = []
    this.pendingCorrected = []
    this.timelineCompleted = []
    this.timelineErrors = []
    this.drained = null
    this.slowestNs = 0
  }

  get stopped() {
    return this.stopNs !== null
  }

  // The fixed-rate histograms, once every measured request is in: the schedule's phase is the
  // median send (the timer's millisecond scatter either side of it is not lateness), each send's
  // lag is how much later than that it went, and a response's corrected latency adds its send's
  // lag (wrk2's correction). A generator that falls behind sends late and then catches up in a
  // burst, so its late sends stay late against the median.
  finishSchedule() {
    if (this.corrected === null || this.offsets.length === 0) {
      return
    }
    const sorted = [...this.offsets].sort((a, b) => a - b)
    const phaseNs = sorted[Math.floor((sorted.length - 1) / 2)]
    for (const offsetNs of this.offsets) {
      this.sendLag.record(Math.max(0, offsetNs - phaseNs) / 1000)
    }
    for (const [latencyUs, offsetNs] of this.pendingCorrected) {
      this.corrected.record(latencyUs + Math.max(0, offsetNs - phaseNs) / 1000)
    }
    this.offsets = []
    this.pendingCorrected = []
  }

  // loadtest's hook: it passes the request function and its own response handler; the request
  // is made here, with the instrument's listeners first, so that they see each ending before
  // loadtest counts it (and perhaps stops).
  generator() {
    return (options, params, requestFn, connectCallback) => {
      const entry = this.onSend()
      const request = requestFn(params, response => {
        response.on('end', () => this.onEnd(entry, response.statusCode))
        // A response cut off part way is a connection error, as loadtest has it.
        response.on('aborted', () => this.onEnd(entry, null, '-1'))
        response.on('error', () => this.onEnd(entry, null, '-1'))
        connectCallback(response)
      })
      entry.request = request
      request.on('error', () => this.onEnd(entry, null, '-1'))
      // loadtest arms the request's timeout and counts an error when it fires, but leaves the
      // request open; a timed-out request is over here, and its socket is closed.
      request.on('timeout', () => {
        this.onEnd(entry, null, 'timeout')
        request.destroy()
      })
      return request
    }
  }

  onSend() {
    const sendNs = nowNs()
    if (this.t0 === null) {
      this.t0 = sendNs
    }
    const index = this.sent++
    const entry = {sendNs, offsetNs: 0, done: false, request: null}
    if (this.intervalNs !== null) {
      // Where this send falls against a schedule of one send per interval from the first. The
      // schedule's true phase is not the first send's: loadtest's timer counts whole
      // milliseconds, so its sends scatter about a millisecond either side of their time. The
      // send lag (and the corrected latency) is taken against the typical send, once all are in
      // (finishSchedule): lateness beyond that is what the correction counts.
      entry.offsetNs = Number(sendNs - this.t0) - index * this.intervalNs
      if (this.measured) {
        this.offsets.push(entry.offsetNs)
      }
    }
    this.inFlight.add(entry)
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight.size)
    return entry
  }

  onEnd(entry, status, code) {
    if (entry.done) {
      return
    }
    entry.done = true
    this.inFlight.delete(entry)
    if (status !== null && status !== undefined) {
      this.slowestNs = Math.max(this.slowestNs, Number(nowNs() - entry.sendNs))
    }
    if (this.measured) {
      this.count(entry, status, code)
    }
    if (this.drained && this.inFlight.size === 0) {
      this.drained()
    }
  }

  count(entry, status, code) {
    const endNs = nowNs()
    const afterStop = this.stopped
    this.completed += 1
    if (!afterStop) {
      this.completedBeforeStop += 1
    }
    const errorCode = code ?? (status >= 400 ? String(status) : null)
    if (code === 'timeout') {
      this.timeouts += 1
      if (afterStop) {
        this.abandoned += 1
      }
    }
    if (errorCode !== null) {
      this.errors += 1
      this.errorCodes[errorCode] = (this.errorCodes[errorCode] || 0) + 1
    }
    if (status !== null) {
      this.responses += 1
      const latencyUs = Number(endNs - entry.sendNs) / 1000
      this.uncorrected.record(latencyUs)
      if (this.corrected) {
        this.pendingCorrected.push([latencyUs, entry.offsetNs])
      }
    }
    this.bin(endNs, errorCode !== null)
  }

  bin(endNs, failed) {
    const index = Math.max(0, Math.floor(Number(endNs - this.t0) / 1e9 / TIMELINE_BIN_S))
    while (this.timelineCompleted.length <= index) {
      this.timelineCompleted.push(0)
      this.timelineErrors.push(0)
    }
    this.timelineCompleted[index] += 1
    if (failed) {
      this.timelineErrors[index] += 1
    }
  }

  stop() {
    this.stopNs = nowNs()
    this.inFlightAtStop = this.inFlight.size
  }

  // The tail: wait for what is still in flight, at most timeoutMs; what is left then is
  // abandoned, counted as a timeout, and its socket closed.
  async drain(timeoutMs) {
    if (this.inFlight.size) {
      await new Promise(resolve => {
        const timer = setTimeout(resolve, timeoutMs)
        this.drained = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    this.drained = null
    this.closeOpen('timeout')
  }

  // Every request still open ends here, with code, and its socket is closed.
  closeOpen(code) {
    for (const entry of [...this.inFlight]) {
      this.onEnd(entry, null, code)
      entry.request?.destroy()
    }
  }

  // A warm-up's tail. It is not measured: all that matters is that none of its requests is still
  // in the server when the measurement starts. It is waited for like a measured tail, except for
  // requests the server has lost: open LOST_AFTER_SLOWEST times as long as the slowest answer
  // the warm-up got (at least LOST_MIN_MS), once the server has answered a request sent after
  // all of them (a probe). A server answers what is queued in turn, so a later request answered
  // while those stay open means they will never be (asgi_ipc 1.1 drops requests under load);
  // each would otherwise hold the measurement back for the whole request timeout. A server with
  // a backlog answers the probe only after it, and one still working on a slow request keeps
  // it under the age bound. What is left is closed and counted as lost (or, at the timeout, as
  // timed out).
  async drainWarmUp(timeoutMs, url, probeTimeoutMs) {
    const startNs = nowNs()
    const elapsedMs = () => Number(nowNs() - startNs) / 1e6
    let answered = false
    let probes = 0
    while (this.inFlight.size > 0 && elapsedMs() < timeoutMs) {
      if (!answered) {
        probes += 1
        answered = (await probeOnce(url, Math.max(1, Math.min(probeTimeoutMs, timeoutMs - elapsedMs())))) === null
        if (!answered) {
          await sleep(SETTLE_PAUSE_MS)
        }
        continue
      }
      const lostAfterNs = Math.max(LOST_MIN_MS * 1e6, LOST_AFTER_SLOWEST * this.slowestNs)
      const now = nowNs()
      if ([...this.inFlight].every(entry => Number(now - entry.sendNs) >= lostAfterNs)) {
        break
      }
      await sleep(LOST_CHECK_MS)
    }
    const lost = elapsedMs() < timeoutMs ? this.inFlight.size : 0
    this.closeOpen(lost ? 'lost' : 'timeout')
    return {tail_s: round(elapsedMs() / 1000, 3), probes, lost}
  }

  requests() {
    return {
      sent: this.sent,
      completed: this.completed,
      responses: this.responses,
      errors: this.errors,
      error_codes: this.errorCodes,
      timeouts: this.timeouts,
      completed_before_stop: this.completedBeforeStop,
      in_flight_at_stop: this.inFlightAtStop,
      abandoned: this.abandoned,
      peak_in_flight: this.peakInFlight,
    }
  }
}

function loadtestOptions(spec, m, url, seconds, maxRequests, recorder) {
  const options = {
    url,
    maxSeconds: seconds,
    maxRequests,
    timeout: spec.request_timeout_ms,
    agentKeepAlive: spec.keepalive,
    quiet: true,
    requestGenerator: recorder.generator(),
  }
  if (FIXED_RATE_TESTS.has(m.test)) {
    options.requestsPerSecond = m.rps
  } else {
    options.concurrency = m.clients
  }
  return options
}

// Bounded by count as well as by time: at a fixed rate, the rate for one second more than asked;
// in a closed loop, max_request_rate for the duration.
function maxRequestsFor(spec, m, seconds) {
  const rate = FIXED_RATE_TESTS.has(m.test) ? m.rps : spec.max_request_rate
  const span = FIXED_RATE_TESTS.has(m.test) ? seconds + 1 : seconds
  return Math.max(1, Math.ceil(rate * span))
}

// A Result is a class instance; keep only its data, as JSON.stringify would, at once: loadtest
// shares its histogram object with the run.
const plain = result => JSON.parse(JSON.stringify(result))

async function warmUp(spec, m, url) {
  if (m.warmup_s <= 0) {
    return null
  }
  const recorder = new Recorder({measured: false, rps: null})
  const options = loadtestOptions(spec, m, url, m.warmup_s, maxRequestsFor(spec, m, m.warmup_s), recorder)
  const result = plain(await loadTest(options))
  // Its last requests would otherwise still be running when the measured run starts.
  const tail = await recorder.drainWarmUp(
    spec.request_timeout_ms, url, spec.settle?.probe_timeout_ms ?? DEFAULT_PROBE_TIMEOUT_MS,
  )
  return {
    seconds: m.warmup_s,
    totalRequests: result.totalRequests,
    totalErrors: result.totalErrors,
    effectiveRps: result.effectiveRps,
    errorCodes: result.errorCodes,
    ...tail,
  }
}

function starve(hook) {
  if (hook === null) {
    return null
  }
  return setInterval(() => {
    const until = performance.now() + hook.block_ms
    while (performance.now() < until) {
      // busy: the test hook blocks the event loop on purpose
    }
  }, hook.every_ms)
}

async function measuredRun(spec, m, url) {
  const fixedRate = FIXED_RATE_TESTS.has(m.test)
  const recorder = new Recorder({measured: true, rps: fixedRate ? m.rps : null})
  const maxRequests = maxRequestsFor(spec, m, m.duration_s)
  const options = loadtestOptions(spec, m, url, m.duration_s, maxRequests, recorder)
  const monitor = monitorEventLoopDelay({resolution: EVENT_LOOP_RESOLUTION_MS})
  const starver = starve(m.test_starve)
  const cpuBefore = process.cpuUsage()
  const startNs = nowNs()
  const startedAt = new Date()
  monitor.enable()
  const result = plain(await loadTest(options))
  // Still in the microtasks of loadtest's stop: no request has ended since.
  recorder.stop()
  monitor.disable()
  clearInterval(starver)
  const endedAt = new Date()
  const cpu = process.cpuUsage(cpuBefore)
  const wallUs = Number(recorder.stopNs - startNs) / 1000
  await recorder.drain(spec.request_timeout_ms)
  const measuredS = recorder.t0 === null ? wallUs / 1e6 : Number(recorder.stopNs - recorder.t0) / 1e9
  return {
    maxRequests, result, recorder, monitor, cpu, wallUs, measuredS, startedAt, endedAt,
  }
}

function harnessRecord(run, fixedRate) {
  const {recorder} = run
  const histograms = {latency_uncorrected: recorder.uncorrected.summary()}
  recorder.finishSchedule()
  if (fixedRate) {
    histograms.latency_corrected = recorder.corrected.summary()
    histograms.send_lag = recorder.sendLag.summary()
  }
  histograms.event_loop_delay = eventLoopRecording(run.monitor).summary()
  return {
    unit: 'us',
    significant_digits: SIGNIFICANT_DIGITS,
    clock: 'monotonic',
    measured_s: round(run.measuredS, 3),
    event_loop_resolution_ms: EVENT_LOOP_RESOLUTION_MS,
    requests: recorder.requests(),
    histograms,
    timeline: {bin_s: TIMELINE_BIN_S, completed: recorder.timelineCompleted, errors: recorder.timelineErrors},
  }
}

function round(value, digits) {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

// ---------------------------------------------------------------- settle, start, wrk

// One GET, bounded as a whole by timeoutMs. A request's own timeout starts only once it is
// connected, and a server whose accept queue is full (asgi_ipc 1.1 after its 300 req/s test)
// leaves the connection attempt to SYN retries for a minute or more.
function probeOnce(url, timeoutMs) {
  const lib = url.startsWith('https:') ? https : http
  return new Promise(resolve => {
    let timer = null
    const finish = problem => {
      clearTimeout(timer)
      resolve(problem)
    }
    const request = lib.get(url, {agent: false, headers: {connection: 'close'}}, response => {
      response.resume()
      response.on('end', () => finish(response.statusCode < 500 ? null : `HTTP ${response.statusCode}`))
      response.on('error', error => finish(error.message))
    })
    timer = setTimeout(() => {
      finish(`no answer within ${timeoutMs} ms`)
      request.destroy()
    }, timeoutMs)
    request.on('error', error => finish(error.message))
  })
}

// Probe the URL until one request answers (below HTTP 500) within probe_timeout_ms, at most
// max_wait_s; what was found is recorded either way, never a silent start.
async function settle(spec, url) {
  if (spec.settle === null) {
    return null
  }
  const started = nowNs()
  const elapsedS = () => Number(nowNs() - started) / 1e9
  let probes = 0
  let last = null
  for (;;) {
    probes += 1
    const started = nowNs()
    const problem = await probeOnce(url, spec.settle.probe_timeout_ms)
    const probeMs = Number(nowNs() - started) / 1e6
    if (problem === null && probeMs <= spec.settle.probe_timeout_ms) {
      return {ready: true, waited_s: round(elapsedS(), 3), probes}
    }
    last = problem ?? `answered in ${Math.round(probeMs)} ms`
    if (elapsedS() >= spec.settle.max_wait_s) {
      return {ready: false, waited_s: round(elapsedS(), 3), probes, last}
    }
    await sleep(SETTLE_PAUSE_MS)
  }
}

const sleep = milliseconds => new Promise(resolve => setTimeout(resolve, milliseconds))

async function waitForStart(m) {
  if (m.start_at === null) {
    return null
  }
  const waitMs = m.start_at * 1000 - Date.now()
  if (waitMs > MAX_START_WAIT_S * 1000) {
    throw new Fatal(`start_at is ${Math.round(waitMs / 1000)} s away (more than ${MAX_START_WAIT_S} s): check the clocks`)
  }
  // node's timers count whole milliseconds of another clock: never start before the instant.
  while (Date.now() < m.start_at * 1000) {
    await sleep(Math.max(1, m.start_at * 1000 - Date.now()))
  }
  return Date.now() - m.start_at * 1000
}

const WRK_UNITS_MS = {us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000}

function wrkTimeMs(text) {
  const match = /^([0-9.]+)(us|ms|s|m|h)$/.exec(text)
  if (!match) {
    throw new Fatal(`wrk printed a time that is not one: ${show(text)}`)
  }
  return round(Number(match[1]) * WRK_UNITS_MS[match[2]], 3)
}

function wrkMatch(output, pattern, what) {
  const match = pattern.exec(output)
  if (!match) {
    throw new Fatal(`wrk's output lacks ${what}:\n${output}`)
  }
  return match
}

// wrk --latency's text (wrk 4.1) as the contract's reference object.
export function parseWrk(output) {
  const latency = wrkMatch(output, /^\s*Latency\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s*$/m, 'its latency line')
  const percentile = p => wrkTimeMs(wrkMatch(output, new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, 'm'), `its ${p}% line`)[1])
  const requests = wrkMatch(output, /^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)/m, 'its request count')
  const rate = wrkMatch(output, /^Requests\/sec:\s+([0-9.]+)\s*$/m, 'Requests/sec')
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  const status = /Non-2xx or 3xx responses: (\d+)/.exec(output)
  return {
    requests: Number(requests[1]),
    rps: Number(rate[1]),
    errors: {
      connect: socket ? Number(socket[1]) : 0,
      read: socket ? Number(socket[2]) : 0,
      write: socket ? Number(socket[3]) : 0,
      timeout: socket ? Number(socket[4]) : 0,
      status: status ? Number(status[1]) : 0,
    },
    latency_ms: {
      mean: wrkTimeMs(latency[1]),
      max: wrkTimeMs(latency[2]),
      p50: percentile(50),
      p90: percentile(90),
      p99: percentile(99),
    },
  }
}

function wrkVersion(path) {
  const probe = spawnSync(path, ['-v'], {encoding: 'utf8', timeout: 5000})
  if (probe.error) {
    throw new Fatal(`cannot run wrk (${path}): ${probe.error.message}`)
  }
  const match = /wrk\s+(?:\S*?\/)?v?(\d+\.\d+\.\d+)/.exec(`${probe.stdout}${probe.stderr}`)
  return match ? match[1] : null
}

let runningChild = null

function runWrk(argv, boundMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
    runningChild = child
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => { stdout += chunk })
    child.stderr.on('data', chunk => { stderr += chunk })
    const timer = setTimeout(() => child.kill('SIGKILL'), boundMs)
    child.on('error', error => {
      clearTimeout(timer)
      runningChild = null
      reject(new Fatal(`cannot run wrk (${argv[0]}): ${error.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      runningChild = null
      if (code !== 0) {
        reject(new Fatal(`wrk exited with ${signal ?? code}: ${stderr.trim() || stdout.trim()}`))
      } else {
        resolve(stdout)
      }
    })
  })
}

async function reference(spec, m, url) {
  const threads = Math.min(spec.wrk.threads, m.clients)
  const timeoutS = wrkTimeoutS(spec)
  const argv = [
    spec.wrk.path, '-t', String(threads), '-c', String(m.clients), '-d', `${m.duration_s}s`,
    '--latency', '--timeout', `${timeoutS}s`,
    ...(spec.keepalive ? [] : ['-H', 'Connection: close']),
    url,
  ]
  const version = wrkVersion(spec.wrk.path)
  const startedAt = new Date()
  const output = await runWrk(argv, (m.duration_s + timeoutS + MEASUREMENT_SLACK_S) * 1000)
  const endedAt = new Date()
  return {
    tool: 'wrk',
    version,
    clients: m.clients,
    threads,
    duration_s: m.duration_s,
    connection_close: !spec.keepalive,
    ...parseWrk(output),
    file: m.output,
    timeout_s: timeoutS,
    url,
    started_at: startedAt.toISOString(),
    ended_at: endedAt.toISOString(),
    argv,
    wrk_output: output,
  }
}

// ---------------------------------------------------------------- outputs and progress

// Written to a temporary name in the same directory, then linked to its own: link(2) fails when
// the name exists, so a result never replaces another, and no reader sees half a file.
function writeDocument(path, document) {
  mkdirSync(dirname(path), {recursive: true, mode: 0o755})
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  writeFileSync(temporary, JSON.stringify(document) + '\n', {flag: 'wx', mode: 0o644})
  try {
    linkSync(temporary, path)
  } catch (error) {
    if (error.code === 'EEXIST') {
      throw new Fatal(`${path} appeared during the measurement; a result is never overwritten (kept it, dropped this one)`)
    }
    throw error
  } finally {
    unlinkSync(temporary)
  }
}

function progress(spec, event) {
  if (spec.progress !== null) {
    mkdirSync(dirname(spec.progress), {recursive: true, mode: 0o755})
    appendFileSync(spec.progress, JSON.stringify(event) + '\n', {mode: 0o644})
  }
}

function loadtestVersion() {
  try {
    return JSON.parse(readFileSync(join(here, 'node_modules', 'loadtest', 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

// ---------------------------------------------------------------- the series

// The best rate the closed-loop measurements before it reached without an error: what a sweep's
// fraction is of (failing fast is no capacity).
function capacity(documents) {
  const rates = documents
    .filter(d => CLOSED_LOOP_TESTS.has(d.test) && d.harness.requests.errors === 0)
    .map(d => d.achieved_rps)
  return rates.length ? Math.max(...rates) : null
}

function resolveRate(m, documents) {
  if (m.test !== 'sweep' || m.fraction === null) {
    return {...m, capacity_rps: null}
  }
  const capacityRps = capacity(documents)
  if (!capacityRps) {
    throw new Fatal(`the sweep at ${m.fraction} of capacity has no capacity to go by: no throughput measurement before it ran without errors`)
  }
  return {...m, rps: round(m.fraction * capacityRps, 2), capacity_rps: capacityRps}
}

async function loadMeasurement(spec, m, url, common) {
  const fixedRate = FIXED_RATE_TESTS.has(m.test)
  const warmup = await warmUp(spec, m, url)
  const run = await measuredRun(spec, m, url)
  const harness = harnessRecord(run, fixedRate)
  const requests = harness.requests
  return {
    ...common,
    max_requests: run.maxRequests,
    started_at: run.startedAt.toISOString(),
    ended_at: run.endedAt.toISOString(),
    warmup,
    achieved_rps: run.measuredS > 0 ? round(requests.completed_before_stop / run.measuredS, 2) : 0,
    loadtest: run.result,
    harness,
    generator: {
      // CPU time of this process (loadtest runs in it) over the measured wall time, as a share
      // of one core: near 100 the generator, not the server, set the pace.
      cpu_percent: run.wallUs > 0 ? round((run.cpu.user + run.cpu.system) / run.wallUs * 100, 1) : null,
      cpu_user_s: run.cpu.user / 1e6,
      cpu_system_s: run.cpu.system / 1e6,
      cpus: spec.cpus,
      node_version: process.version,
      loadtest_version: loadtestVersion(),
    },
  }
}

async function measure(spec, m, documents) {
  const resolved = resolveRate(m, documents)
  const url = m.url ?? spec.url
  const settled = await settle(spec, url)
  const startLagMs = await waitForStart(m)
  const common = {
    host: spec.host,
    test: m.test,
    rep: m.rep,
    url,
    rps: FIXED_RATE_TESTS.has(m.test) ? resolved.rps : null,
    clients: FIXED_RATE_TESTS.has(m.test) ? null : m.clients,
    ...(m.test === 'sweep' ? {fraction: m.fraction, capacity_rps: resolved.capacity_rps} : {}),
    duration_s: m.duration_s,
    warmup_s: m.warmup_s,
    keepalive: spec.keepalive,
    request_timeout_ms: spec.request_timeout_ms,
    output: m.output,
    start_at: m.start_at,
    start_lag_ms: startLagMs,
    settle: settled,
  }
  if (m.test === 'reference') {
    // The contract's reference object first, then what the series knows of the measurement.
    const measured = await reference(spec, m, url)
    const {rps, clients, ...context} = common
    return {
      ...measured, ...context, achieved_rps: measured.rps,
      generator: {cpu_percent: null, cpus: spec.cpus},
    }
  }
  return loadMeasurement(spec, resolved, url, common)
}

function progressLine(document, index, total, startedNs, plannedDone, plannedLeft) {
  const elapsedS = Number(nowNs() - startedNs) / 1e9
  const reference = document.test === 'reference'
  const latency = document.harness?.histograms.latency_uncorrected
  const requests = document.harness?.requests
  return {
    event: 'measured',
    index: index + 1,
    of: total,
    test: document.test,
    rep: document.rep,
    rps: document.rps,
    clients: document.clients,
    achieved_rps: document.achieved_rps,
    p50_us: reference ? round(document.latency_ms.p50 * 1000, 0) : latency.p50,
    p99_us: reference ? round(document.latency_ms.p99 * 1000, 0) : latency.p99,
    errors: reference ? Object.values(document.errors).reduce((a, b) => a + b, 0) : requests.errors,
    requests: reference ? document.requests : requests.completed,
    output: document.output,
    elapsed_s: round(elapsedS, 1),
    // The plan still ahead, at the pace the series has kept so far.
    eta_s: round(plannedLeft * (plannedDone > 0 ? elapsedS / plannedDone : 1), 1),
  }
}

async function runSeries(spec) {
  const startedNs = nowNs()
  const total = spec.measurements.length
  progress(spec, {
    event: 'started', of: total, expected_s: seriesExpected(spec), bound_s: seriesBound(spec),
    pid: process.pid, host: spec.host,
  })
  const documents = []
  let plannedLeft = spec.measurements.reduce((sum, m) => sum + measurementExpected(m), 0)
  let plannedDone = 0
  for (const [index, m] of spec.measurements.entries()) {
    const document = await measure(spec, m, documents)
    writeDocument(join(spec.output_dir, m.output), document)
    console.log(JSON.stringify(document))
    documents.push(document)
    plannedDone += measurementExpected(m)
    plannedLeft -= measurementExpected(m)
    progress(spec, progressLine(document, index, total, startedNs, plannedDone, plannedLeft))
  }
  progress(spec, {event: 'done', of: total, elapsed_s: round(Number(nowNs() - startedNs) / 1e9, 1)})
}

// The controller touches the heartbeat while it waits; when it stops (it died, or lost the
// host), the driver stops too, so that no load generator outlives its controller.
function watchHeartbeat(spec, stop) {
  if (spec.heartbeat === null) {
    return null
  }
  const {path, stale_s: staleS} = spec.heartbeat
  return setInterval(() => {
    let ageS
    try {
      ageS = (Date.now() - statSync(path).mtimeMs) / 1000
    } catch {
      ageS = Infinity
    }
    if (ageS > staleS) {
      const age = Number.isFinite(ageS) ? `${Math.round(ageS)} s old` : 'missing'
      stop(new Fatal(`the heartbeat ${path} is ${age} (stale after ${staleS} s): the controller is gone, stopping`, EXIT.heartbeat))
    }
  }, HEARTBEAT_CHECK_MS)
}

function finish(spec, error) {
  runningChild?.kill('SIGTERM')
  const status = error instanceof Fatal ? error.status : EXIT.failed
  const message = error instanceof Fatal ? error.message : (error?.stack || String(error))
  console.error(`loadtest driver: ${message}`)
  if (spec && status !== EXIT.badSpec) {
    try {
      progress(spec, {event: 'failed', message: message.split('\n')[0], status})
    } catch (progressError) {
      console.error(`loadtest driver: cannot append to ${spec.progress}: ${progressError.message}`)
    }
  }
  // Requests still open would keep node alive; whatever was measured is written already.
  process.exit(status)
}

async function main(argv) {
  const check = argv[0] === '--check'
  const spec = validate(parseSpec(readSpecText(check ? argv[1] : argv[0])))
  if (check) {
    console.log(JSON.stringify({measurements: spec.measurements.length, expected_s: seriesExpected(spec), bound_s: seriesBound(spec)}))
    return
  }
  const stop = error => finish(spec, error)
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => stop(new Fatal('interrupted', EXIT.interrupted)))
  }
  const heartbeat = watchHeartbeat(spec, stop)
  const bound = setTimeout(() => stop(new Fatal(`the series took longer than its bound of ${seriesBound(spec)} s`)), seriesBound(spec) * 1000)
  try {
    await runSeries(spec)
  } catch (error) {
    stop(error)
  }
  clearInterval(heartbeat)
  clearTimeout(bound)
}

// Run as a program; imported (the tests import parseWrk), it only defines.
const invoked = process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
if (invoked) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    error => finish(null, error),
  )
}
