import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasStalled, writtenSoFar } from '../../recorder/runProgress.js';

describe('what an encoder run has written', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const folder = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-progress-'));
    dirs.push(dir);
    return dir;
  };

  it('changes as the segment being written grows, when it is closed, and when the next begins', () => {
    const dir = folder();
    const pattern = path.join(dir, 'r0001-%05d.ts');
    const marks = [writtenSoFar(pattern, 0)];
    fs.writeFileSync(path.join(dir, 'r0001-00000.ts.tmp'), Buffer.alloc(32_768));
    marks.push(writtenSoFar(pattern, 0));
    fs.appendFileSync(path.join(dir, 'r0001-00000.ts.tmp'), Buffer.alloc(32_768));
    marks.push(writtenSoFar(pattern, 0));
    fs.renameSync(path.join(dir, 'r0001-00000.ts.tmp'), path.join(dir, 'r0001-00000.ts'));
    marks.push(writtenSoFar(pattern, 0));
    marks.push(writtenSoFar(pattern, 1));
    expect(new Set(marks).size).toBe(marks.length);
  });

  it('stays the same while nothing is written', () => {
    const dir = folder();
    const pattern = path.join(dir, 'r0002-%05d.ts');
    fs.writeFileSync(path.join(dir, 'r0002-00003.ts.tmp'), Buffer.alloc(1000));
    expect(writtenSoFar(pattern, 3)).toBe(writtenSoFar(pattern, 3));
  });

  it('calls a run stalled only once it has been silent for longer than allowed', () => {
    expect(hasStalled({ changedAt: 1000 }, 9000, 8000)).toBe(false);
    expect(hasStalled({ changedAt: 1000 }, 9001, 8000)).toBe(true);
  });
});
