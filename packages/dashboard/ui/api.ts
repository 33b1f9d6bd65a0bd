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

/** The API's typed client over the page's own origin; a refused call throws ApiFailure. */
export const client = new ApiClient({
  transport: fetchTransport(),
  token: () => tokenStore.get() ?? '',
  failure: ({ status, code, message }) => new ApiFailure(status, code ?? `HTTP_${status}`, message ?? `HTTP ${status}`),
});
