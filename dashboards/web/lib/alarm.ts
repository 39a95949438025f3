/**
 * The console's sounds, generated with WebAudio (no audio files). Browsers
 * start an AudioContext suspended until a user gesture, so the operator's
 * "Start shift" click is what unlocks it; until then the page says the sound
 * is off. The alarm is a two-tone pattern (in the spirit of IEC 60601-1-8
 * high-priority alarms: a repeating burst, distinct from a single chime),
 * repeated until no critical alert is left unclaimed.
 */

export type AudioState = 'locked' | 'unlocked' | 'unavailable';

const REPEAT_MS = 2500;

export class AlarmSound {
  private ctx: AudioContext | null = null;
  private loop: ReturnType<typeof setInterval> | null = null;
  private mutedUntil = 0;

  constructor(private readonly onChange: (s: { audio: AudioState; sounding: boolean }) => void) {}

  get state(): AudioState {
    if (typeof AudioContext === 'undefined') return 'unavailable';
    return this.ctx?.state === 'running' ? 'unlocked' : 'locked';
  }

  get sounding(): boolean {
    return this.loop !== null;
  }

  /** Call from a click: creates and resumes the context. */
  async unlock(): Promise<AudioState> {
    if (typeof AudioContext === 'undefined') return this.emit();
    this.ctx ??= new AudioContext();
    this.ctx.onstatechange = () => this.emit();
    try {
      await this.ctx.resume();
    } catch {
      // stays locked; the banner keeps saying so
    }
    if (this.ctx.state === 'running') this.chime(660, 0.12);
    return this.emit();
  }

  /** Starts or stops the repeating alarm. */
  set(on: boolean): void {
    if (on && !this.loop) {
      this.burst();
      this.loop = setInterval(() => this.burst(), REPEAT_MS);
      this.emit();
    } else if (!on && this.loop) {
      clearInterval(this.loop);
      this.loop = null;
      this.emit();
    }
  }

  /** Silences the alarm for a while (it still flashes). */
  mute(ms: number): void {
    this.mutedUntil = Date.now() + ms;
  }

  get muted(): boolean {
    return Date.now() < this.mutedUntil;
  }

  /** One short tone for a new urgent alert. */
  notify(): void {
    this.chime(880, 0.2);
  }

  private burst(): void {
    if (this.muted) return;
    // Three rising pulses, pause, two: easy to tell from a phone ringing.
    [0, 0.18, 0.36, 0.7, 0.88].forEach((at, i) => this.chime(i % 2 ? 988 : 784, 0.14, at));
  }

  private chime(freq: number, seconds: number, delay = 0): void {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== 'running') return;
    const t0 = ctx.currentTime + delay;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'square';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + seconds);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0);
    osc.stop(t0 + seconds + 0.02);
  }

  private emit(): AudioState {
    const audio = this.state;
    this.onChange({ audio, sounding: this.sounding });
    return audio;
  }

  close(): void {
    this.set(false);
    void this.ctx?.close();
  }
}
