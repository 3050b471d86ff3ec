#!/usr/bin/env node
// ort_bench.js: times one ONNX model on ONNX Runtime (CPU) for
// engine_vs_onnx.py. usage: node ort_bench.js MODEL.onnx H W THREADS RUNS WARMUP
// Prints one JSON line: ms_median, ms_min, cpu_ms_median (process CPU time
// per run, all threads), peak_rss_mb.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, h, w, threads, runs, warmup] = process.argv.slice(2);
  const H = +h, W = +w, T = +threads, R = +runs, WU = +warmup;
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: T,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const data = new Float32Array(3 * H * W);
  let seed = 12345;
  for (let i = 0; i < data.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    data[i] = seed >>> 24;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, H, W]) };
  const ms = [], cpu = [];
  for (let i = 0; i < WU + R; i++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    await session.run(feeds);
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    const dc = process.cpuUsage(c0);
    if (i >= WU) {
      ms.push(dt);
      cpu.push((dc.user + dc.system) / 1e3);
    }
  }
  cpu.sort((a, b) => a - b);
  ms.sort((a, b) => a - b);
  const n = ms.length;
  const median = n % 2 ? ms[(n - 1) / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ engine: 'onnxruntime', version: ort.env.versions ? ort.env.versions.common : '',
    ms_median: median, ms_min: ms[0], cpu_ms_median: cpu[Math.floor((n - 1) / 2)],
    peak_rss_mb: rss }));
}
main().catch((e) => { console.error(e && e.message ? e.message : e); process.exit(1); });
