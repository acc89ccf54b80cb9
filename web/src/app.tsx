/** The app shell: sign-in, the top bar, and the pages by path. */
import { type FormEvent, useEffect, useState } from "react";
import { ApiError, clearToken, errorMessage, get, getToken, setToken } from "./api/client";
import { eventHub, useEngineEvents, useLiveState } from "./api/events";
import { AgentsPage } from "./pages/agents-page";
import { LaunchPage } from "./pages/launch-page";
import { ReleasePage, ReleasesPage } from "./pages/releases-page";
import { RunPage } from "./pages/run-page";
import { RunsPage } from "./pages/runs-page";
import { TriggersPage } from "./pages/triggers-page";
import { Link, match, useLocation } from "./router";

export function App() {
  const [token, setTokenState] = useState(getToken);
  const [rejected, setRejected] = useState(false);
  useEffect(() => {
    const onAuth = () => {
      setTokenState(getToken());
      setRejected(false);
      eventHub.restart();
    };
    const onUnauthorized = () => setRejected(true);
    window.addEventListener("baton:auth", onAuth);
    window.addEventListener("baton:unauthorized", onUnauthorized);
    return () => {
      window.removeEventListener("baton:auth", onAuth);
      window.removeEventListener("baton:unauthorized", onUnauthorized);
    };
  }, []);

  if (!token || rejected) return <SignIn rejected={rejected && !!token} />;
  return (
    <div className="app">
      <TopBar />
      <main className="main">
        <Routes />
      </main>
    </div>
  );
}

function Routes() {
  const { path } = useLocation();
  if (path === "/" || path === "/runs") return <RunsPage />;
  let m = match("/runs/:id", path);
  if (m) return <RunPage key={m.id} id={m.id!} />;
  if (path === "/launch") return <LaunchPage name={undefined} />;
  m = match("/launch/:name", path);
  if (m) return <LaunchPage name={m.name} />;
  if (path === "/releases") return <ReleasesPage />;
  if (path === "/triggers") return <TriggersPage />;
  if (path === "/agents") return <AgentsPage />;
  m = match("/releases/:name", path);
  if (m) return <ReleasePage key={m.name} name={m.name!} />;
  return (
    <div className="page">
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link to="/">See the runs</Link>.
      </p>
    </div>
  );
}

function TopBar() {
  const { path } = useLocation();
  const live = useLiveState();
  // Keeps the event stream open on every page, so "Live" means live.
  useEngineEvents(() => {});
  const section = path.startsWith("/launch")
    ? "launch"
    : path.startsWith("/releases")
      ? "releases"
      : path.startsWith("/triggers")
        ? "triggers"
        : path.startsWith("/agents")
          ? "agents"
          : "runs";
  return (
    <header className="topbar">
      <Link to="/" className="brand" aria-label="Baton: runs">
        <svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
          <rect width="32" height="32" rx="7" fill="#1e293b" />
          <path d="M9 23L23 9" stroke="#f59e0b" strokeWidth="4" strokeLinecap="round" />
          <circle cx="9" cy="23" r="3.5" fill="#fff" />
        </svg>
        Baton
      </Link>
      <nav className="nav">
        <Link to="/" className={section === "runs" ? "nav-on" : ""}>
          Runs
        </Link>
        <Link to="/launch" className={section === "launch" ? "nav-on" : ""}>
          Launch
        </Link>
        <Link to="/releases" className={section === "releases" ? "nav-on" : ""}>
          Releases
        </Link>
        <Link to="/triggers" className={section === "triggers" ? "nav-on" : ""}>
          Triggers
        </Link>
        <Link to="/agents" className={section === "agents" ? "nav-on" : ""}>
          Agents
        </Link>
      </nav>
      <span className="spacer" />
      <span className={`live live-${live}`} title="Updates from the server">
        <span className="live-dot" />
        {live === "live" ? "Live" : live === "connecting" ? "Connecting…" : "Offline"}
      </span>
      <button type="button" className="btn btn-ghost btn-sm" onClick={() => clearToken()}>
        Sign out
      </button>
    </header>
  );
}

function SignIn({ rejected }: { rejected: boolean }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(
    rejected ? "The server did not accept the saved token (it may have been changed). Sign in again." : null,
  );
  const [checking, setChecking] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const token = value.trim();
    if (!token) return;
    setChecking(true);
    const previous = getToken();
    try {
      window.localStorage.setItem("baton.token", token);
      await get("/runs?limit=1");
      setToken(token);
    } catch (err) {
      if (previous) window.localStorage.setItem("baton.token", previous);
      else window.localStorage.removeItem("baton.token");
      setError(
        err instanceof ApiError && err.status === 401
          ? "That token is not this server's."
          : errorMessage(err),
      );
    } finally {
      setChecking(false);
    }
  };
  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit}>
        <div className="brand brand-lg">
          <svg viewBox="0 0 32 32" width="32" height="32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#1e293b" />
            <path d="M9 23L23 9" stroke="#f59e0b" strokeWidth="4" strokeLinecap="round" />
            <circle cx="9" cy="23" r="3.5" fill="#fff" />
          </svg>
          Baton
        </div>
        <h1>Sign in</h1>
        <p>
          Open the sign-in link that <code>baton server</code> printed (<code>http://…/?token=…</code>), or
          paste the token from <code>.baton/token</code>:
        </p>
        <input
          type="password"
          autoComplete="off"
          placeholder="Token"
          aria-label="Token"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        {error ? <div className="alert alert-error">{error}</div> : null}
        <button type="submit" className="btn btn-primary" disabled={checking || !value.trim()}>
          {checking ? "Checking…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
