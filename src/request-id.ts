// Request ids: one hyperid generator per gateway, injected where ids are needed.
import hyperid from 'hyperid';

/** Makes request ids, unique within and across processes. */
export interface RequestIds {
  /** A fresh id. */
  next(): string;
}

/** Creates a request-id generator backed by one hyperid instance. */
export function createRequestIds(): RequestIds {
  // urlSafe: ids travel in headers and log lines, where '/' and '+' are a nuisance.
  const generate = hyperid({ urlSafe: true });
  return { next: () => generate() };
}
