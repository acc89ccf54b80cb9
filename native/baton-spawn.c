/*
 * baton-spawn: starts task processes for a Baton engine (or launcher), and tells it when they end.
 *
 * Why: a Node process starts a child by forking itself, which copies the page tables of its
 * 40-50 MB and then takes a copy-on-write fault for every page either side touches until the
 * child execs. That is most of a tiny task's cost. This helper is a few hundred KB, and uses
 * posix_spawn (a vfork-style clone on glibc), so a start costs about what make's does.
 * The engine (or a launcher) runs one helper (src/executors/spawn-helper.ts). The helper also
 * makes each task's output folder and log before starting it, system calls that would
 * otherwise cost the engine's event loop far more; the engine keeps the rest (collecting
 * outputs, the store). The task's shell writes its status file itself (src/executors/shell.ts),
 * and the task its metrics file. Built by
 * scripts/build-native.mjs; where it is missing (no C compiler), tasks are started with Node's
 * spawn as before.
 *
 * Protocol, on stdin and stdout (spawn-helper.ts is the only user: nothing here is a public format):
 *
 *   request  (stdin)  fields each ended by a NUL byte:
 *                     ID FILE CWD LOG DIR DIRMODE FILEMODE AFTER UNTIL ARGC ARG... ENVC NAME=VALUE...
 *                     First the task's files are made, as the engine would make them (state-mode.ts):
 *                     the folder DIR with its missing parents (mode DIRMODE, octal, exactly; an
 *                     existing DIR must be writable), then LOG, created empty with mode FILEMODE
 *                     exactly, or, when it exists, appended to. Then FILE is started with ARG... as argv (ARG 1 is argv[0]), in CWD,
 *                     in a session of its own, with stdin /dev/null and stdout and stderr appended
 *                     to LOG, with this helper's environment plus NAME=VALUE (replacing a variable
 *                     of the same name), every signal at its default and none blocked.
 *                     AFTER, when not 0, is the ID of a request whose process runs (or is held
 *                     itself): the files are made now, and the process is started the moment that
 *                     one ends (before its end is replied), so that a task waiting for the slot of
 *                     the task before it starts without a round trip to the engine. Not when the end
 *                     comes after UNTIL (milliseconds since the epoch; 0: no limit): then it waits
 *                     for a G. An ID that follows nothing running is started at once.
 *            control  one field: G followed by an ID starts that held request now; D followed by an
 *                     ID drops it (replied H). Either does nothing for a request not held (any more).
 *   replies  (stdout) one line each; the first, R, says the helper is ready:
 *                     R                    ready for requests
 *                     S ID PID STARTTIME   started; STARTTIME is field 22 of /proc/PID/stat ("-" if unreadable)
 *                     P ID WHAT ERRNO      a file could not be made (WHAT: dir or log); nothing was started
 *                     F ID ERRNO MESSAGE   could not be started
 *                     H ID                 a held request was dropped (D): nothing was started
 *                     X ID CODE SIGNAL     ended: CODE is the exit status (-1 when killed), SIGNAL the
 *                                          signal number (0 when it exited); whatever it left running in
 *                                          its process group has been sent SIGKILL first
 *
 * At the end of stdin (the engine or launcher is gone) the helper exits, starting nothing it held; the tasks live on in their own
 * sessions and report through their status files, as they do when a launcher dies. It ignores
 * SIGINT, SIGQUIT and SIGHUP: a Ctrl-C in the terminal reaches the whole foreground process
 * group, and is the engine's to handle (it cancels the tasks, whose ends the helper reports).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Request ids by pid, for the processes started and not yet reaped (pid_max entries, touched sparsely). */
static long long *ids_by_pid;
static long pid_max = 4194304;

static char *in;
static size_t in_len, in_cap;

static void die(const char *what) {
  fprintf(stderr, "baton-spawn: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void reply(const char *line, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, line, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      exit(0); /* the launcher is gone */
    }
    line += w;
    n -= (size_t)w;
  }
}

/* Field 22 of /proc/PID/stat, counted from the last ')' (the command name may hold anything). */
static void start_time(pid_t pid, char *out, size_t cap) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  snprintf(out, cap, "-");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return;
  stat[n] = 0;
  char *p = strrchr(stat, ')');
  if (!p) return;
  p += 2; /* field 3, the state */
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return;
  size_t k = strcspn(p, " \n");
  if (k == 0 || k >= cap) return;
  memcpy(out, p, k);
  out[k] = 0;
}

/* The environment with `n` NAME=VALUE entries added, each replacing one of the same name. */
static char **merged_env(char **add, long n) {
  long base = 0;
  while (environ[base]) base++;
  char **env = malloc(sizeof(char *) * (size_t)(base + n + 1));
  if (!env) die("malloc");
  long count = 0;
  for (long i = 0; i < base; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    int replaced = 0;
    for (long j = 0; j < n && !replaced; j++)
      replaced = strncmp(add[j], environ[i], name_len) == 0 && add[j][name_len] == '=';
    if (!replaced) env[count++] = environ[i];
  }
  for (long j = 0; j < n; j++) env[count++] = add[j];
  env[count] = NULL;
  return env;
}

/* The umask, read once: folders and files it would narrow are given their mode exactly. */
static mode_t mask;

/* mkdir -p of `dir` (which may be changed in place and is restored); 0, or the errno. New
 * folders get `mode` exactly; `*created` says whether `dir` itself was made. */
static int make_dirs(char *dir, mode_t mode, int *created) {
  *created = 0;
  if (mkdir(dir, mode) == 0) {
    *created = 1;
    if ((mode & ~mask) != mode && chmod(dir, mode) != 0) return errno;
    return 0;
  }
  if (errno == EEXIST) {
    struct stat st;
    if (stat(dir, &st) != 0) return errno;
    return S_ISDIR(st.st_mode) ? 0 : EEXIST;
  }
  if (errno != ENOENT) return errno;
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return ENOENT;
  *slash = 0;
  int parent_created;
  int err = make_dirs(dir, mode, &parent_created);
  *slash = '/';
  if (err) return err;
  return make_dirs(dir, mode, created);
}

/* The log: created empty with `mode` exactly, or an existing one (an earlier attempt's, the
 * task's own) opened to append, left with no permission beyond `mode` (another user's file is
 * left as it is). 0, or the errno. */
static int make_log(const char *path, mode_t mode) {
  int created = 1;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) {
    created = 0;
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) return errno;
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) err = errno;
  else {
    mode_t current = st.st_mode & 0777, wanted = created ? mode : (current & mode);
    if (current != wanted && fchmod(fd, wanted) != 0 && errno != EPERM) err = errno;
  }
  close(fd);
  return err;
}

/* Makes the task's folder and log (see the protocol); replies P and returns 0 when one fails. */
static int prepare(const char *id, char *dir, const char *log, mode_t dir_mode, mode_t file_mode) {
  char line[128];
  int err = 0, created = 0;
  const char *what = "dir";
  if (dir[0]) {
    err = make_dirs(dir, dir_mode, &created);
    /* mkdir succeeds on nothing for a folder that exists: whether it can be written is asked. */
    if (!err && !created && access(dir, W_OK | X_OK) != 0) err = errno;
  }
  if (!err) {
    what = "log";
    err = make_log(log, file_mode);
  }
  if (!err) return 1;
  int n = snprintf(line, sizeof line, "P %s %s %d\n", id, what, err);
  reply(line, (size_t)n);
  return 0;
}

/* A request as read: its fixed fields, then the arguments and variables. */
#define FIXED 9
struct request {
  char *fixed[FIXED];
  long counts[2];
  char **lists[2];
};

static void free_request(struct request *r) {
  for (int l = 0; l < 2; l++) free(r->lists[l]);
}

/* Processes started and not reaped yet, by request id (few: at most the slots in use). */
static long long *live;
static size_t live_len, live_cap;

static void add_live(long long id) {
  if (live_len == live_cap) {
    live_cap = live_cap ? live_cap * 2 : 64;
    live = realloc(live, live_cap * sizeof *live);
    if (!live) die("realloc");
  }
  live[live_len++] = id;
}

static int remove_live(long long id) {
  for (size_t i = 0; i < live_len; i++)
    if (live[i] == id) {
      live[i] = live[--live_len];
      return 1;
    }
  return 0;
}

/* Requests whose files are made and whose process waits for another's end (AFTER), or a G. */
struct hold {
  long long id, after, until;
  char *buf; /* the request's own copy, which `r` points into */
  struct request r;
};
static struct hold *holds;
static size_t holds_len, holds_cap;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the request's process (its files are made); replies S or F. */
static void launch(struct request *r) {
  char **f = r->fixed;
  long argc = r->counts[0], envc = r->counts[1];
  char **argv = r->lists[0], **envv = r->lists[1];
  const char *id = f[0], *file = f[1], *cwd = f[2], *log = f[3];
  char line[512];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_APPEND, 0);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&fa, cwd);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);

  char **args = malloc(sizeof(char *) * (size_t)(argc + 1));
  if (!args) die("malloc");
  for (long i = 0; i < argc; i++) args[i] = argv[i];
  args[argc] = NULL;
  char **env = merged_env(envv, envc);
  pid_t pid;
  int err = posix_spawn(&pid, file, &fa, &at, args, env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  free(args);
  free(env);
  int n;
  if (err != 0) {
    n = snprintf(line, sizeof line, "F %s %d %s\n", id, err, strerror(err));
  } else {
    char st[32];
    start_time(pid, st, sizeof st);
    long long nid = strtoll(id, NULL, 10);
    if (pid <= pid_max) ids_by_pid[pid] = nid + 1;
    add_live(nid);
    n = snprintf(line, sizeof line, "S %s %d %s\n", id, (int)pid, st);
  }
  reply(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static ssize_t find_hold(long long id) {
  for (size_t i = 0; i < holds_len; i++)
    if (holds[i].id == id) return (ssize_t)i;
  return -1;
}

/* Takes hold `i` out of the list, keeping the others in the order they came. */
static struct hold take_hold(size_t i) {
  struct hold h = holds[i];
  memmove(holds + i, holds + i + 1, (holds_len - i - 1) * sizeof *holds);
  holds_len--;
  return h;
}

static void release_hold(struct hold *h) {
  free_request(&h->r);
  free(h->buf);
}

/* Whether request `id` runs or is held: a request following it waits. */
static int pending(long long id) {
  for (size_t i = 0; i < live_len; i++)
    if (live[i] == id) return 1;
  return find_hold(id) >= 0;
}

/* The NUL-ended field at *p of buf, moving *p past it; NULL when buf holds no complete field there. */
static char *field(char *buf, size_t len, size_t *p) {
  char *nul = memchr(buf + *p, 0, len - *p);
  if (!nul) return NULL;
  char *f = buf + *p;
  *p = (size_t)(nul - buf) + 1;
  return f;
}

/* Reads one request of buf from *p (moving *p past it): 1, or 0 when it is not complete yet. */
static int parse_request(char *buf, size_t len, size_t *p, struct request *r) {
  memset(r, 0, sizeof *r);
  for (int i = 0; i < FIXED; i++)
    if (!(r->fixed[i] = field(buf, len, p))) return 0;
  for (int l = 0; l < 2; l++) {
    char *count = field(buf, len, p);
    if (!count) return 0;
    r->counts[l] = strtol(count, NULL, 10);
    if (r->counts[l] < 0 || r->counts[l] > 1 << 20) {
      fprintf(stderr, "baton-spawn: bad request (count %s)\n", count);
      exit(1);
    }
    r->lists[l] = malloc(sizeof(char *) * (size_t)(r->counts[l] + 1));
    if (!r->lists[l]) die("malloc");
    for (long k = 0; k < r->counts[l]; k++)
      if (!(r->lists[l][k] = field(buf, len, p))) return 0;
  }
  return 1;
}

/* A G or D: starts or drops a held request. */
static void control(const char *f) {
  ssize_t i = find_hold(strtoll(f + 1, NULL, 10));
  if (i < 0) return;
  struct hold h = take_hold((size_t)i);
  if (f[0] == 'G') {
    launch(&h.r);
  } else {
    char line[64];
    int n = snprintf(line, sizeof line, "H %lld\n", h.id);
    reply(line, (size_t)n);
  }
  release_hold(&h);
}

/* Makes the request's files, then starts its process, or holds it (AFTER). */
static void take(struct request *r, const char *raw, size_t raw_len) {
  char **f = r->fixed;
  if (!prepare(f[0], f[4], f[3], (mode_t)strtol(f[5], NULL, 8), (mode_t)strtol(f[6], NULL, 8)))
    return;
  long long after = strtoll(f[7], NULL, 10);
  if (after == 0 || !pending(after)) {
    launch(r);
    return;
  }
  if (holds_len == holds_cap) {
    holds_cap = holds_cap ? holds_cap * 2 : 16;
    holds = realloc(holds, holds_cap * sizeof *holds);
    if (!holds) die("realloc");
  }
  struct hold *h = &holds[holds_len++];
  h->id = strtoll(f[0], NULL, 10);
  h->after = after;
  h->until = strtoll(f[8], NULL, 10);
  h->buf = malloc(raw_len);
  if (!h->buf) die("malloc");
  memcpy(h->buf, raw, raw_len);
  size_t p = 0;
  parse_request(h->buf, raw_len, &p, &h->r);
}

/* Takes every complete request in the input; what is left is the start of the next one. */
static void take_requests(void) {
  size_t pos = 0;
  for (;;) {
    size_t p = pos;
    char *first = field(in, in_len, &p);
    if (!first) break;
    if (first[0] == 'G' || first[0] == 'D') {
      control(first);
      pos = p;
      continue;
    }
    p = pos;
    struct request r;
    int complete = parse_request(in, in_len, &p, &r);
    if (complete) take(&r, in + pos, p - pos);
    free_request(&r);
    if (!complete) break;
    pos = p;
  }
  memmove(in, in + pos, in_len - pos);
  in_len -= pos;
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    long long id = pid <= pid_max ? ids_by_pid[pid] - 1 : -1;
    if (pid <= pid_max) ids_by_pid[pid] = 0;
    if (id < 0) continue;
    remove_live(id);
    /* Whatever the task left running in its group goes with it (the group outlives its leader). */
    kill(-pid, SIGKILL);
    /* The request that waited for this end starts first, unless its time is past (it waits for a G). */
    for (size_t i = 0; i < holds_len; i++) {
      if (holds[i].after != id) continue;
      if (holds[i].until == 0 || now_ms() <= holds[i].until) {
        struct hold h = take_hold(i);
        launch(&h.r);
        release_hold(&h);
      }
      break;
    }
    char line[128];
    int n = WIFEXITED(status) ? snprintf(line, sizeof line, "X %lld %d 0\n", id, WEXITSTATUS(status))
                              : snprintf(line, sizeof line, "X %lld -1 %d\n", id, WTERMSIG(status));
    reply(line, (size_t)n);
  }
}

int main(void) {
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  mask = umask(0);
  umask(mask);
  FILE *pm = fopen("/proc/sys/kernel/pid_max", "r");
  if (pm) {
    if (fscanf(pm, "%ld", &pid_max) != 1) pid_max = 4194304;
    fclose(pm);
  }
  ids_by_pid = calloc((size_t)pid_max + 1, sizeof *ids_by_pid);
  if (!ids_by_pid) die("calloc");
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) die("sigprocmask");
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  in_cap = 1 << 16;
  in = malloc(in_cap);
  if (!in) die("malloc");

  reply("R\n", 2);
  struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
      }
      reap();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (in_cap - in_len < 4096) {
        in_cap *= 2;
        in = realloc(in, in_cap);
        if (!in) die("realloc");
      }
      ssize_t n = read(STDIN_FILENO, in + in_len, in_cap - in_len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0; /* the launcher is gone: the tasks live on */
      in_len += (size_t)n;
      take_requests();
    }
  }
}
