// Tables owned by web/: console users, their sessions and API tokens.
export interface WebTables {
  web_users: {
    username: string;
    /** scrypt$N$r$p$salt$hash (base64url). */
    password_hash: string;
    role: string; // 'admin' | 'analyst' | 'viewer'
    disabled: number;
    created_at: string;
    updated_at: string;
  };
  /** One row per login; the cookie holds a random token, the row its SHA-256. */
  web_sessions: {
    token_hash: string;
    username: string;
    csrf_token: string;
    created_at: string;
    expires_at: string;
    last_seen_at: string;
  };
  /** Bearer tokens for automation; only the SHA-256 is kept. */
  web_api_tokens: {
    token_hash: string;
    id: string;
    username: string;
    name: string;
    created_at: string;
    last_used_at: string | null;
  };
}
