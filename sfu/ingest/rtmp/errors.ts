/** A client broke the RTMP protocol, or a limit of ours: its connection is closed. */
export class RtmpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RtmpProtocolError';
  }
}

/** The RTMP server could not listen (port taken, bad address, a certificate it cannot use). */
export class RtmpListenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RtmpListenError';
  }
}
