/**
 * An SRT caller's link as the operator sees it, from srt-live-transmit's
 * JSON statistics (the first line below is as srt-tools 1.5.1 writes it;
 * its counters are those of the interval since the previous report).
 */
import { describe, expect, it } from 'vitest';
import { parseSrtStatsReport, SrtLinkMeter } from '../../sfu/ingest/srt/SrtLinkMeter.js';

const real =
  '{"sid":955525024,"timepoint":"2026-11-30T13:52:35.327677+0000","time":1339,"window":{"flow":8192,"congestion":8192,"flight":0},' +
  '"link":{"rtt":0.627,"bandwidth":12,"maxBandwidth":1000},"send":{"packets":0,"packetsUnique":0,"packetsLost":0,"packetsDropped":0,' +
  '"packetsRetransmitted":0,"packetsFilterExtra":0,"bytes":0,"bytesUnique":0,"bytesDropped":0,"byteAvailBuf":12288000,"msBuf":0,' +
  '"mbitRate":0,"sendPeriod":12},"recv":{"packets":102,"packetsUnique":102,"packetsLost":0,"packetsDropped":0,"packetsRetransmitted":0,' +
  '"packetsBelated":0,"packetsFilterExtra":0,"packetsFilterSupply":0,"packetsFilterLoss":0,"bytes":130824,"bytesUnique":130824,' +
  '"bytesLost":0,"bytesDropped":0,"byteAvailBuf":12255000,"msBuf":73,"mbitRate":2.00479,"msTsbPdDelay":120}}';

/** A report of `packets` received, `lost` found missing, `retransmitted` and `dropped` in its interval. */
function report(o: { packets: number; lost?: number; retransmitted?: number; dropped?: number; rtt?: number; mbps?: number }): string {
  return JSON.stringify({
    link: { rtt: o.rtt ?? 24.5 },
    recv: {
      packets: o.packets,
      packetsUnique: o.packets - (o.retransmitted ?? 0),
      packetsLost: o.lost ?? 0,
      packetsDropped: o.dropped ?? 0,
      packetsRetransmitted: o.retransmitted ?? 0,
      msBuf: 180,
      mbitRate: o.mbps ?? 4.2,
      msTsbPdDelay: 200,
    },
  });
}

function meterOf(lines: [at: number, line: string][]): SrtLinkMeter {
  const meter = new SrtLinkMeter();
  for (const [at, line] of lines) meter.add(parseSrtStatsReport(line)!, at);
  return meter;
}

describe('parseSrtStatsReport', () => {
  it('reads a report of srt-live-transmit 1.5.1', () => {
    const parsed = parseSrtStatsReport(real);
    expect(parsed?.link.rtt).toBe(0.627);
    expect(parsed?.recv).toMatchObject({ packets: 102, packetsLost: 0, msBuf: 73, mbitRate: 2.00479, msTsbPdDelay: 120 });
  });

  it('takes nothing else: log lines, cut lines, JSON of another shape', () => {
    expect(parseSrtStatsReport('Accepted SRT source connection')).toBeNull();
    expect(parseSrtStatsReport(real.slice(0, 400))).toBeNull();
    expect(parseSrtStatsReport('{"sid":1,"link":{"rtt":"fast"}}')).toBeNull();
    expect(parseSrtStatsReport('{}')).toBeNull();
  });
});

describe('SrtLinkMeter', () => {
  it('has nothing to show before the first report', () => {
    expect(new SrtLinkMeter().stats(0)).toBeNull();
  });

  it('shows the latest readings and the counters summed since the caller connected', () => {
    const meter = meterOf([
      [1000, report({ packets: 400, lost: 4, retransmitted: 4, rtt: 30 })],
      [1500, report({ packets: 400, lost: 2, retransmitted: 2, dropped: 1, rtt: 26.25, mbps: 4.5 })],
    ]);
    expect(meter.stats(1600)).toEqual({
      rttMs: 26.25,
      receiveMbps: 4.5,
      lossPercent: 0.75, // 6 of the 800 sent (794 unique received + 6 missing)
      packetsReceived: 800,
      packetsLost: 6,
      packetsRetransmitted: 6,
      packetsDropped: 1,
      receiveBufferMs: 180,
      latencyMs: 200,
      updatedAt: 1500,
    });
  });

  it("shows the loss of the last few seconds, not the caller's whole history", () => {
    const meter = meterOf([
      [1000, report({ packets: 100, lost: 50 })],
      [5000, report({ packets: 100 })],
      [5500, report({ packets: 100 })],
    ]);
    const stats = meter.stats(5600)!;
    expect(stats.lossPercent).toBe(0);
    expect(stats.packetsLost).toBe(50);
  });

  it('shows no rate once reports stop coming (the caller sends nothing)', () => {
    const meter = meterOf([[1000, report({ packets: 100, lost: 10, mbps: 3 })]]);
    expect(meter.stats(2000)!.receiveMbps).toBe(3);
    const stale = meter.stats(10_000)!;
    expect(stale.receiveMbps).toBe(0);
    expect(stale.lossPercent).toBe(0);
    expect(stale.updatedAt).toBe(1000);
  });
});
