import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { GatekeeperError } from '../../core/errors';
import { writeError } from './write-error';

/**
 * No request can stop the process. Each request runs in an async context that knows its
 * response; an exception that escapes every handler (a callback deep in Verdaccio or a
 * library throwing outside any try) is caught at the process level, logged, and answered on
 * the request it came from with a coded 500, instead of ending the process. One guard serves
 * every gatekeeper in the process (tests run several); it is removed when the last one stops.
 */

interface Scope {
  res: ServerResponse;
  logger: Logger;
}

const scope = new AsyncLocalStorage<Scope>();
let users = 0;
let fallbackLogger: Logger | undefined;

/** Runs a request's handling inside the guard's context. */
export function guarded(res: ServerResponse, logger: Logger, handle: () => void): void {
  scope.run({ res, logger }, handle);
}

/**
 * Runs synchronous handling outside the guard's context (matching, the fast path): inside it,
 * every async resource the request makes (each socket write) copies the context. A throw is
 * answered as an escaped error is. Returns false when it threw.
 */
export function unguarded(res: ServerResponse, logger: Logger, handle: () => void): boolean {
  try {
    handle();
    return true;
  } catch (err) {
    logger.error({ err, kind: 'exception' }, 'an error escaped every handler; the process keeps running');
    answerEscaped(res);
    return false;
  }
}

function answerEscaped(res: ServerResponse): void {
  try {
    writeError(res, new GatekeeperError('EINTERNAL', 'the request failed inside the gatekeeper and was stopped. Try again; the server log has the details'));
  } catch {
    res.destroy();
  }
}

function onEscape(kind: 'exception' | 'rejection') {
  return (err: unknown): void => {
    const current = scope.getStore();
    const logger = current?.logger ?? fallbackLogger;
    logger?.error({ err, kind }, 'an error escaped every handler; the process keeps running');
    if (current) answerEscaped(current.res);
  };
}

const onException = onEscape('exception');
const onRejection = onEscape('rejection');

/** Installs the guard (once per process); call the returned function to release it. */
export function installProcessGuard(logger: Logger): () => void {
  if (users === 0) {
    fallbackLogger = logger;
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
  }
  users += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    users -= 1;
    if (users === 0) {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
      fallbackLogger = undefined;
    }
  };
}
