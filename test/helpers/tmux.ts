import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * A real terminal for tests of interactive programs: a tmux server of its own (its socket in the
 * test's temp dir), one window running a command, keys sent as a person types them, the screen
 * read back as text, and the window resized (the program gets SIGWINCH).
 */
export class Tmux {
  /** The screen as last read by waitFor (the terminal recording of a session). */
  lastScreen = '';

  constructor(private readonly socket: string) {}

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 20_000 });
  }

  start(columns: number, rows: number, command: string): void {
    this.tmux(['new-session', '-d', '-x', String(columns), '-y', String(rows), '-s', 't', command]);
    // The window keeps the size it is given, whatever client attaches (none does).
    this.tmux(['set-option', '-t', 't', 'window-size', 'manual']);
  }

  /** Types a line and Enter. */
  type(line: string): void {
    this.tmux(['send-keys', '-t', 't', '-l', line]);
    this.tmux(['send-keys', '-t', 't', 'Enter']);
  }

  resize(columns: number, rows: number): void {
    this.tmux(['resize-window', '-t', 't', '-x', String(columns), '-y', String(rows)]);
  }

  /** The pane's size as `rows columns`, what `stty size` in it prints. */
  size(): string {
    return this.tmux(['display-message', '-p', '-t', 't', '#{pane_height} #{pane_width}']).trim();
  }

  /** The visible screen and its scrollback, as text. */
  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', 't']);
  }

  /** Waits until the screen matches (lines trimmed at the end); fails with the screen after `ms`. */
  async waitFor(re: RegExp, ms = 60_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      try {
        this.lastScreen = this.screen()
          .split('\n')
          .map((l) => l.trimEnd())
          .join('\n');
      } catch {
        // the session ended: the last screen stays
      }
      if (re.test(this.lastScreen)) return;
      if (Date.now() > until) throw new Error(`the terminal never showed ${re}:\n${this.lastScreen}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  kill(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      // already gone
    }
  }
}

/** Waits for a file to be written (a command's exit status, written by the shell that ran it). */
export async function waitForFile(path: string, ms = 60_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const text = await readFile(path, 'utf8');
      if (text.endsWith('\n')) return text;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`${path} was never written`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
