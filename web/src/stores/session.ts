import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import type { ErrorCode, PeerSummary, ReceiveMode } from '@protocol';
import { ConferenceClient, idleState, type ClientState, type FailureReason } from '@/client/ConferenceClient';
import { RequestError } from '@/client/SignalingClient';

declare global {
  interface Window {
    /** The page's media client, for end-to-end tests. */
    diemcau?: ConferenceClient;
  }
}

/** Failures a retry cannot fix: the user needs a new invitation or the session is over. */
const finalFailures: FailureReason[] = ['token-invalid', 'removed', 'session-ended'];

export function signalingUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/** One ConferenceClient per page, and a reactive copy of what it knows. */
export const useSessionStore = defineStore('session', () => {
  // The client itself stays out of Vue's reactivity (its #private fields do not survive proxies).
  let client: ConferenceClient | null = null;
  let unsubscribe: (() => void)[] = [];

  const token = ref('');
  const state = shallowRef<ClientState>(idleState());
  const localStream = shallowRef<MediaStream | null>(null);
  const programStream = shallowRef<MediaStream | null>(null);
  /** Bumped whenever the program stream's tracks change. */
  const programVersion = ref(0);
  const programHasVideo = ref(false);
  const programHasAudio = ref(false);
  const actionError = ref<ErrorCode | null>(null);

  const started = computed(() => state.value.connection !== 'idle');
  const snapshot = computed(() => state.value.snapshot);
  const status = computed(() => state.value.snapshot?.status ?? null);
  const identity = computed(() => state.value.identity);
  const peers = computed<PeerSummary[]>(() => state.value.snapshot?.peers ?? []);
  const hasFloor = computed(() => !!identity.value && state.value.snapshot?.floor === identity.value);
  /** The recorder is writing the program (live stream and archive). */
  const recording = computed(() => !!state.value.snapshot?.recording);
  const handRaised = computed(() => !!state.value.snapshot?.handsRaised.includes(identity.value));
  const failureIsFinal = computed(() => !!state.value.failure && finalFailures.includes(state.value.failure));
  /** Who is on air now: the snapshot's program source, else what this page receives. */
  const onAirIdentity = computed(() => state.value.snapshot?.programSource ?? state.value.programIdentity);
  const onAirName = computed(() => nameOf(onAirIdentity.value));

  function nameOf(who: string | null | undefined): string {
    if (!who) return '';
    return peers.value.find((p) => p.identity === who)?.name ?? who;
  }

  function syncProgram(stream: MediaStream): void {
    programHasVideo.value = stream.getVideoTracks().length > 0;
    programHasAudio.value = stream.getAudioTracks().length > 0;
    programVersion.value++;
  }

  /**
   * Before the click on "join": the client opens its connection and loads its
   * media device, so the join itself is quicker. Joins nothing (the point is
   * not present until start()).
   */
  function prepare(newToken: string): void {
    if (client || !newToken) return;
    token.value = newToken;
    const c = markRaw(new ConferenceClient({ token: newToken, signalingUrl: signalingUrl(), receiveMode: state.value.receiveMode }));
    client = c;
    c.prepare();
  }

  async function start(newToken: string): Promise<void> {
    // A second click while this link is joining (the page shows it a moment later) changes nothing.
    if (client && unsubscribe.length && token.value === newToken && client.state.connection === 'connecting') return;
    // A client prepared for this link, not started yet, is the one that joins.
    const ready = client && token.value === newToken && client.state.connection === 'idle' && !unsubscribe.length ? client : null;
    if (!ready) stop();
    token.value = newToken;
    actionError.value = null;
    const c =
      ready ?? markRaw(new ConferenceClient({ token: newToken, signalingUrl: signalingUrl(), receiveMode: state.value.receiveMode }));
    client = c;
    window.diemcau = c;
    programStream.value = c.programStream;
    unsubscribe = [
      c.on('change', (s) => {
        state.value = { ...s };
        if (localStream.value !== c.localStream) localStream.value = c.localStream;
      }),
      c.on('program', syncProgram),
    ];
    await c.start();
  }

  /** Starts again with the same invitation (after a non-final failure). */
  function retry(): Promise<void> {
    return start(token.value);
  }

  function stop(): void {
    unsubscribe.forEach((off) => off());
    unsubscribe = [];
    const receiveMode = state.value.receiveMode;
    client?.stop();
    client = null;
    state.value = idleState(receiveMode);
    localStream.value = null;
    programStream.value = null;
    programHasVideo.value = false;
    programHasAudio.value = false;
  }

  /** Runs an action over signaling; a refusal is shown, not thrown. */
  async function run(action: (c: ConferenceClient) => Promise<unknown>): Promise<boolean> {
    // A client only prepared (not joined yet) has nothing to act on.
    if (!client || !unsubscribe.length) return false;
    actionError.value = null;
    try {
      await action(client);
      return true;
    } catch (error) {
      actionError.value = error instanceof RequestError ? error.code : 'internal';
      return false;
    }
  }

  return {
    token,
    state,
    localStream,
    programStream,
    programVersion,
    programHasVideo,
    programHasAudio,
    actionError,
    started,
    snapshot,
    status,
    identity,
    peers,
    hasFloor,
    recording,
    handRaised,
    failureIsFinal,
    onAirIdentity,
    onAirName,
    nameOf,
    prepare,
    start,
    /** The page's program picture drew its first frame (the client opens the camera after it). */
    programShown: () => client?.programShown(),
    retry,
    stop,
    raiseHand: (raised: boolean) => run((c) => c.raiseHand(raised)),
    setReceiveMode: (mode: ReceiveMode) => run((c) => c.setReceiveMode(mode)),
    goLive: () => run((c) => c.goLive()),
    endSession: () => run((c) => c.endSession()),
    giveFloor: (who: string) => run((c) => c.giveFloor(who)),
    takeFloor: () => run((c) => c.takeFloor()),
    chooseStudio: (who: string | null) => run((c) => c.chooseStudio(who)),
    removePeer: (who: string) => run((c) => c.removePeer(who)),
    mutePeer: (who: string, muted: boolean) => run((c) => c.mutePeer(who, muted)),
    requestReadiness: (who: string) => run((c) => c.requestReadiness(who)),
    setAgendaItem: (itemId: string | null) => run((c) => c.setAgendaItem(itemId)),
    startRecording: () => run((c) => c.startRecording()),
    stopRecording: () => run((c) => c.stopRecording()),
  };
});
