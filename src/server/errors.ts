/** Startup refused: the message names the cause (database, migrations, plugin, port). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
