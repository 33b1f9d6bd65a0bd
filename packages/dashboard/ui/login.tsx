import { useState } from 'preact/hooks';

/** Asks for an API token; the app checks it against the master before keeping it. */
export function Login({ onToken, error }: { onToken: (token: string) => void; error: string | undefined }) {
  const [token, setToken] = useState('');
  return (
    <section class="login" id="login">
      <h2>Phoenix dashboard</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim() !== '') onToken(token.trim());
        }}
      >
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          placeholder="the bearer token from the master's api.tokens"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        {error !== undefined && <p class="error">{error}</p>}
        <button class="primary" type="submit">
          Sign in
        </button>
      </form>
      <p class="muted">The token stays in this browser tab only (session storage) and is sent to this master alone.</p>
    </section>
  );
}
