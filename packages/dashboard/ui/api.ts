// The dashboard's only way to the master: the API's client, same-origin, with the bearer token.
import { ApiClient, fetchTransport } from '@phoenix/api/client';

const TOKEN_KEY = 'phoenix.apiToken';

/** The token lives in sessionStorage: gone when the tab closes, never in a cookie or the URL. */
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer other than 2xx, with the API's error code and message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

const refusals = new Set<(failure: ApiFailure) => void>();

/** Called when the API refuses the token (401: expired, revoked or unknown), from whichever panel asked. */
export function onTokenRefused(listener: (failure: ApiFailure) => void): () => void {
  refusals.add(listener);
  return () => refusals.delete(listener);
}

/** The API's typed client over the page's own origin; a refused call throws ApiFailure. */
export const client = new ApiClient({
  transport: fetchTransport(),
  token: () => tokenStore.get() ?? '',
  failure: ({ status, code, message }) => {
    const failure = new ApiFailure(status, code ?? `HTTP_${status}`, message ?? `HTTP ${status}`);
    if (status === 401) for (const listener of refusals) listener(failure);
    return failure;
  },
});
