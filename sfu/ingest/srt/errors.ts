/** SrtListener options that cannot work (thrown by SrtListener.start()). */
export class SrtOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SrtOptionsError';
  }
}

/** The UDP port an SRT listener should bind is held by something else; the listener keeps retrying it. */
export class SrtPortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`SRT listener: UDP port ${port} on ${host} is already in use`);
    this.name = 'SrtPortInUseError';
  }
}

/** The listener's srt-live-transmit could not start or exited before a caller connected; the listener retries it after a pause. */
export class SrtFfmpegError extends Error {
  constructor(
    message: string,
    /** The last lines it printed, for the logs. */
    readonly stderr: readonly string[],
  ) {
    super(message);
    this.name = 'SrtFfmpegError';
  }
}
