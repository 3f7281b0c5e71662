import { describe, expect, it } from 'vitest';
import type { MediaSource, Role } from '../../protocol/index.js';
import {
  mayBeHeard,
  preferredSpatialLayer,
  programKey,
  programOf,
  programPicture,
  programStudio,
  receivedOnJoin,
  streamOf,
  wantedBy,
  type FloorState,
  type SentStream,
} from '../../sfu/room/onAir.js';

interface Stream extends SentStream {
  closed: boolean;
}

function stream(id: string, kind: 'audio' | 'video', source: MediaSource = kind === 'audio' ? 'mic' : 'camera'): Stream {
  return { id, kind, closed: false, appData: { source } };
}

function sender(identity: string, role: Role, ...streams: Stream[]) {
  return { identity, role, streams };
}

const live = (floor: string | null = null, muted: string[] = [], studio: string | null = null): FloorState => ({
  status: 'live',
  floor,
  muted: new Set(muted),
  studio,
});
const picture = (floor: string | null, studio: string | null = null) => ({ floor, studio });

const studioCam = stream('studio-cam', 'video');
const studioMic = stream('studio-mic', 'audio');
const pointCam = stream('a-cam', 'video');
const pointMic = stream('a-mic', 'audio');
const studio = sender('studio', 'studio', studioCam, studioMic);
const pointA = sender('a', 'point', pointCam, pointMic);
const pointB = sender('b', 'point', stream('b-cam', 'video'), stream('b-mic', 'audio'));
const viewer = sender('v', 'viewer');

describe('who is heard', () => {
  it('the studio always, a point only with the floor', () => {
    expect(mayBeHeard(studio, live())).toBe(true);
    expect(mayBeHeard(pointA, live())).toBe(false);
    expect(mayBeHeard(pointA, live('a'))).toBe(true);
    expect(mayBeHeard(pointB, live('a'))).toBe(false);
  });

  it('nobody the operator silenced, floor or not, studio included', () => {
    expect(mayBeHeard(pointA, live('a', ['a']))).toBe(false);
    expect(mayBeHeard(studio, live(null, ['studio']))).toBe(false);
  });
});

describe('the picture on air', () => {
  it("is the studio's while nobody holds the floor", () => {
    expect(programPicture([pointA, studio, pointB], picture(null))).toBe(studioCam);
  });

  it("is the floor holder's camera, and its shared screen before its camera", () => {
    expect(programPicture([studio, pointA], picture('a'))).toBe(pointCam);
    const screen = stream('a-screen', 'video', 'screen');
    expect(programPicture([studio, sender('a', 'point', pointCam, screen)], picture('a'))).toBe(screen);
  });

  it('falls back to the studio while the floor holder sends no picture, or its camera closed', () => {
    expect(programPicture([studio, sender('a', 'point', pointMic)], picture('a'))).toBe(studioCam);
    const closedCam = { ...stream('a-cam2', 'video'), closed: true };
    expect(programPicture([studio, sender('a', 'point', closedCam)], picture('a'))).toBe(studioCam);
  });

  it('is the first studio that sends a picture, and none when no one does', () => {
    const silentDesk = sender('desk', 'studio', stream('desk-mic', 'audio'));
    expect(programPicture([silentDesk, studio], picture(null))).toBe(studioCam);
    expect(programPicture([silentDesk, pointA, viewer], picture(null))).toBeUndefined();
  });
});

describe("the hall's two studios (its browser and its encoder)", () => {
  const encoderCam = stream('encoder-cam', 'video');
  const encoderMic = stream('encoder-mic', 'audio');
  const encoder = sender('encoder', 'studio', encoderCam, encoderMic);

  it('the first to join is on air until the operator chooses, then the chosen one', () => {
    expect(programStudio([studio, encoder], null)).toBe('studio');
    expect(programStudio([studio, encoder], 'encoder')).toBe('encoder');
    const program = programOf([studio, encoder, pointA], live(null, [], 'encoder'));
    // One picture and one voice from the hall: the other studio is silent and off air.
    expect(program).toEqual({ video: encoderCam, audio: [encoderMic] });
    expect(mayBeHeard(studio, live(null, [], 'encoder'))).toBe(false);
  });

  it('falls back to the other when the chosen one stops sending, and returns when it sends again', () => {
    const gone = sender('encoder', 'studio', { ...encoderCam, closed: true }, { ...encoderMic, closed: true });
    expect(programStudio([studio, gone], 'encoder')).toBe('studio');
    expect(programStudio([studio], 'encoder')).toBe('studio');
    expect(programStudio([studio, encoder], 'encoder')).toBe('encoder');
  });

  it('prefers a studio with a picture to one with sound only, and is none when no studio sends', () => {
    const silentDesk = sender('desk', 'studio', stream('desk-mic', 'audio'));
    expect(programStudio([silentDesk, studio], null)).toBe('studio');
    expect(programStudio([silentDesk], null)).toBe('desk');
    expect(programStudio([pointA, viewer, sender('idle', 'studio')], null)).toBeNull();
  });

  it('a point with the floor still replaces the chosen studio on air', () => {
    const program = programOf([studio, encoder, pointA], live('a', [], 'encoder'));
    expect(program.video).toBe(pointCam);
    expect(program.audio).toEqual([encoderMic, pointMic]);
  });
});

describe('the program', () => {
  it('is empty until the session is on air', () => {
    expect(programOf([studio, pointA], { status: 'waiting', floor: 'a', muted: new Set(), studio: 'studio' })).toEqual({
      video: undefined,
      audio: [],
    });
    expect(programOf([studio, pointA], { status: 'ended', floor: null, muted: new Set(), studio: 'studio' })).toEqual({
      video: undefined,
      audio: [],
    });
  });

  it('carries the studio and the floor holder: one picture and both voices', () => {
    const program = programOf([studio, pointA, pointB], live('a'));
    expect(program.video).toBe(pointCam);
    expect(program.audio).toEqual([studioMic, pointMic]);
  });

  it('leaves out a muted voice but keeps its picture', () => {
    const program = programOf([studio, pointA], live('a', ['a']));
    expect(program.video).toBe(pointCam);
    expect(program.audio).toEqual([studioMic]);
  });
});

describe('what each participant receives', () => {
  const program = programOf([studio, pointA, pointB], live('a'));

  it('a point receives the picture and every voice on air', () => {
    const wanted = wantedBy({ receiveMode: 'auto', ownStreamIds: ['b-cam', 'b-mic'] }, program);
    expect([...wanted.keys()].sort()).toEqual(['a-cam', 'a-mic', 'studio-mic']);
  });

  it('the floor holder does not receive its own picture or voice', () => {
    const wanted = wantedBy({ receiveMode: 'auto', ownStreamIds: ['a-cam', 'a-mic'] }, program);
    expect([...wanted.keys()]).toEqual(['studio-mic']);
  });

  it('a point that chose sound only receives no picture', () => {
    const wanted = wantedBy({ receiveMode: 'audio-only', ownStreamIds: [] }, program);
    expect([...wanted.keys()].sort()).toEqual(['a-mic', 'studio-mic']);
    expect(receivedOnJoin(program, 'audio-only')).toBe(2);
    expect(receivedOnJoin(program, 'auto')).toBe(3);
  });

  it("a point's picture is held at the lowest layer when it asked for low bandwidth or its link is weak", () => {
    expect(preferredSpatialLayer('auto', false)).toBe(2);
    expect(preferredSpatialLayer('low', false)).toBe(0);
    expect(preferredSpatialLayer('auto', true)).toBe(0);
  });
});

describe('the program key the recorder follows', () => {
  it('changes when the floor moves, not when voices are listed in another order', () => {
    const before = programKey(programOf([studio, pointA], live()));
    expect(programKey(programOf([pointA, studio], live()))).toBe(before);
    expect(programKey(programOf([studio, pointA], live('a')))).not.toBe(before);
  });
});

describe('a participant’s stream of a kind', () => {
  it('is the open one of that kind and source', () => {
    const closed = { ...stream('old-cam', 'video'), closed: true };
    const cam = stream('cam', 'video');
    expect(streamOf([closed, cam], 'video')).toBe(cam);
    expect(streamOf([cam], 'video', 'screen')).toBeUndefined();
    expect(streamOf([cam], 'audio')).toBeUndefined();
  });
});
