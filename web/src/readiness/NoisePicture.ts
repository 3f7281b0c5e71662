/** A moving noise picture from a canvas: what the encoder must send at full rate. */
export class NoisePicture {
  readonly track: MediaStreamTrack;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(width = 640, height = 360, fps = 15) {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d')!;
    const image = context.createImageData(width, height);
    const pixels = new Uint32Array(image.data.buffer);
    const draw = () => {
      // Blocks of 4 pixels: noise still, at a quarter of the cost of drawing every pixel on an old PC.
      for (let y = 0; y < height; y += 4) {
        for (let x = 0; x < width; x += 4) {
          const colour = (Math.random() * 0xffffff) | 0xff000000;
          for (let dy = 0; dy < 4; dy++) pixels.fill(colour, (y + dy) * width + x, (y + dy) * width + x + 4);
        }
      }
      context.putImageData(image, 0, 0);
    };
    draw();
    this.#timer = setInterval(draw, 1000 / fps);
    this.track = canvas.captureStream(fps).getVideoTracks()[0];
  }

  stop(): void {
    clearInterval(this.#timer);
    this.track.stop();
  }
}
