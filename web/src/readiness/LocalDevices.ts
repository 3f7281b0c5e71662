/**
 * The clerk's own devices for the readiness check: the camera's picture, the
 * microphone's level (its loudest during the check tells a dead or muted
 * microphone), and a test tone for the speakers. close() stops the camera
 * and microphone and the audio graph.
 */
export class LocalDevices {
  stream: MediaStream | null = null;
  /** The loudest the microphone has been, 0..1 of full scale. */
  peak = 0;
  #audio: AudioContext | null = null;
  #analyser: AnalyserNode | null = null;
  #samples: Float32Array<ArrayBuffer> | null = null;

  /** Opens camera and microphone; either may be missing (camera false, or a level that stays at 0). */
  async open(): Promise<{ camera: boolean; microphone: boolean }> {
    this.stream = await navigator.mediaDevices
      .getUserMedia({ audio: true, video: { width: 640, height: 360 } })
      // No camera (or it is refused): the microphone alone still gets checked.
      .catch(() => navigator.mediaDevices.getUserMedia({ audio: true }).catch(() => null));
    const camera = !!this.stream?.getVideoTracks().some((t) => t.readyState === 'live');
    const microphone = !!this.stream?.getAudioTracks().length;
    this.#audio = new AudioContext();
    if (microphone && this.stream) {
      const source = this.#audio.createMediaStreamSource(this.stream);
      this.#analyser = this.#audio.createAnalyser();
      this.#analyser.fftSize = 1024;
      this.#samples = new Float32Array(this.#analyser.fftSize);
      source.connect(this.#analyser);
    }
    // A page opened without a click may start its audio suspended.
    await this.#audio.resume().catch(() => undefined);
    return { camera, microphone };
  }

  /** The microphone's level now (0..1), also raising the peak. */
  level(): number {
    if (!this.#analyser || !this.#samples) return 0;
    this.#analyser.getFloatTimeDomainData(this.#samples);
    let max = 0;
    for (const v of this.#samples) max = Math.max(max, Math.abs(v));
    const level = Math.min(1, max);
    this.peak = Math.max(this.peak, level);
    return level;
  }

  /** Plays a 1 kHz beep pattern through the speakers for `seconds`. */
  async playTone(seconds = 3): Promise<void> {
    const audio = this.#audio ?? (this.#audio = new AudioContext());
    await audio.resume().catch(() => undefined);
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 1000;
    const start = audio.currentTime;
    gain.gain.setValueAtTime(0, start);
    // Half-second beeps: easier to tell from the room's noise than a steady tone.
    for (let t = 0; t < seconds; t += 1) {
      gain.gain.setValueAtTime(0.3, start + t);
      gain.gain.setValueAtTime(0, start + t + 0.5);
    }
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + seconds);
  }

  close(): void {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    void this.#audio?.close().catch(() => undefined);
    this.#audio = null;
    this.#analyser = null;
  }
}
