/** The tables and remarks the fan-out bench prints, per N and in summary. */
import type { StepResult } from './measure.js';

/** Probes give up after 5 s. */
const controlMs = (x: number) => (x >= 4999 ? '≥5000' : f(x, 0));

export const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

export function printStep(n: number, results: StepResult[]): void {
  console.log(`\nN = ${n} receivers (${2 * n} consumer streams: ${n} video + ${n} audio)`);
  const rows = [
    [
      'setup',
      'worker CPU % (each)',
      'total %',
      '% / stream',
      'µs / pkt',
      'rx media pkt/s',
      'video loss %',
      'audio loss %',
      'silent v/a',
      'rx drops',
      'receiver CPU %',
      'ffmpeg %',
      'node %',
      'machine % (other)',
      'ingest pkt/s (lost)',
      'setup s (transports + consumers)',
      'control ms (median / max)',
    ],
  ];
  for (const r of results) {
    if (!r.ok) {
      rows.push([r.setup, `FAILED: ${r.error}`, ...new Array<string>(15).fill('')]);
      continue;
    }
    rows.push([
      r.setup,
      r.workerCpuPct.map((c, i) => `w${i} ${f(c)} (${r.workerConsumers[i]})`).join(', '),
      f(r.totalWorkerCpuPct),
      f(r.cpuPerStreamPct, 4),
      f(r.usPerPacket, 2),
      `${f(r.rxPps, 0)} (${f(r.rxMbps, 0)} Mb/s)`,
      f(r.video.lossPct, 3),
      f(r.audio.lossPct, 3),
      `${r.video.silentStreams}/${r.audio.silentStreams}`,
      String(r.receiverDrops),
      f(r.receiverCpuPct),
      f(r.ffmpegCpuPct),
      f(r.mainCpuPct),
      `${f(r.systemCpuPct, 0)} (${f(r.otherCpuPct, 0)})`,
      `${f(r.ingestPps, 0)} (${r.ingestLost})`,
      `${f(r.transportsSeconds)} + ${f(r.consumersSeconds)}`,
      `${controlMs(r.controlMedianMs)} / ${controlMs(r.controlMaxMs)}`,
    ]);
  }
  console.log(table(rows));
  const d = results.find((r) => r.setup === 'diemcau' && r.ok);
  const b = results.find((r) => r.setup === 'bare' && r.ok);
  if (d && b) {
    console.log(
      `ratio diemcau/bare: CPU per stream ${f(d.cpuPerStreamPct / b.cpuPerStreamPct, 2)}, µs per packet ${f(d.usPerPacket / b.usPerPacket, 2)}` +
        `; loss diemcau ${f(d.lossPct, 3)} % (per worker ${d.lossPctPerWorker.map((l) => f(l, 3)).join(' / ')}) vs bare ${f(b.lossPct, 3)} %`,
    );
  }
  for (const r of results) {
    if (r.ok && r.otherRtpPps >= 1)
      console.log(
        `  ${r.setup}: receivers also got ${f(r.otherRtpPps, 0)} pkt/s of mediasoup bandwidth probation (padding), not counted above`,
      );
    if (r.busyBeforePct !== undefined && r.busyBeforePct >= 15) {
      console.log(
        `  ${r.setup}: the machine was already ${f(r.busyBeforePct, 0)} % busy with other programs before this step: figures are disturbed`,
      );
    }
    if (r.ok && r.otherCpuPct >= 20) {
      console.log(
        `  ${r.setup}: ${f(r.otherCpuPct, 0)} % of CPU during the window was not ours (other programs or kernel work)${r.retried ? ', even after a second run' : ''}`,
      );
    }
    if (r.ok && !Number.isFinite(r.ingestPps))
      console.log(`  ${r.setup}: the worker did not answer producer.getStats() within 3 s (control channel starved)`);
    if (r.workerSocketDrops)
      console.log(`  ${r.setup}: ${r.workerSocketDrops} datagrams dropped at the workers' own sockets (ingest or pipe)`);
    if (r.problems.length) {
      const counts = new Map<string, number>();
      for (const p of r.problems) counts.set(p, (counts.get(p) ?? 0) + 1);
      for (const [p, c] of counts) console.log(`  ${r.setup} logged: ${p}${c > 1 ? ` (×${c})` : ''}`);
    }
  }
}

export function printSummary(all: StepResult[]): void {
  const ns = [...new Set(all.map((r) => r.n))];
  const rows = [
    [
      'N',
      'streams',
      'diemcau CPU % (w0+w1)',
      'bare CPU %',
      'diemcau % / stream',
      'bare % / stream',
      'ratio',
      'rx media pkt/s d / b',
      'loss % d / b',
    ],
  ];
  for (const n of ns) {
    const d = all.find((r) => r.n === n && r.setup === 'diemcau');
    const b = all.find((r) => r.n === n && r.setup === 'bare');
    rows.push([
      String(n),
      String(2 * n),
      d?.ok ? `${f(d.totalWorkerCpuPct)} (${d.workerCpuPct.map((c) => f(c)).join('+')})` : d ? 'failed' : '—',
      b?.ok ? f(b.totalWorkerCpuPct) : b ? 'failed' : '—',
      d?.ok ? f(d.cpuPerStreamPct, 4) : '—',
      b?.ok ? f(b.cpuPerStreamPct, 4) : '—',
      d?.ok && b?.ok ? f(d.cpuPerStreamPct / b.cpuPerStreamPct, 2) : '—',
      `${d?.ok ? f(d.rxPps, 0) : '—'} / ${b?.ok ? f(b.rxPps, 0) : '—'}`,
      `${d?.ok ? f(d.lossPct, 3) : '—'} / ${b?.ok ? f(b.lossPct, 3) : '—'}`,
    ]);
  }
  console.log('\nFan-out summary (CPU in % of one core, over the measure window)');
  console.log(table(rows));
}
