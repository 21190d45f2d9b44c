/*
 * pydepot's interpreter launcher (POSIX): replaces bin/python3.X of a
 * relocatable environment. Compiled at unpack time against the environment's
 * own headers (docs/RELOCATION.md, "The launcher"). It does what CPython's
 * own `python` does (Py_BytesMain) with four differences:
 *
 *  1. Hermetic: variables that point an interpreter at files (PYTHONHOME,
 *     PYTHONPATH, PYTHONSTARTUP, PYTHONUSERBASE, ...) and that the launching
 *     host application set are moved aside (recorded in PYDEPOT_HOST_<NAME>)
 *     before start-up, so a host's settings for its own Python cannot break
 *     this one; pydepot's start-up hook (_pydepot_launch.py) puts them back
 *     for child processes and applies the environment's PYTHONPATH policy.
 *     The user site is off.
 *  2. Pinned: sys.executable is the name it was started as in the real path
 *     of its folder, so a process started through `<env>/current/...` runs
 *     entirely on the version it started with, whatever happens to `current`
 *     meanwhile.
 *  3. Any argv[0]: an unresolvable argv[0] still finds the environment
 *     (CPython would fall back to its compiled-in prefix).
 *  4. libpython is loaded with dlopen by absolute path from the resolved
 *     runtime's lib/ (or, in a venv made from this interpreter with
 *     `--copies`, from the lib/ beside the `home` it records), never by
 *     soname through the loader's search path. Every path is built with a
 *     checked snprintf (too long: an error, never a truncated path), and
 *     pyvenv.cfg is read by whole lines, as CPython reads it. Built hardened
 *     (warnings as errors, _FORTIFY_SOURCE=2, stack protector, full RELRO).
 *  5. Shared runtimes: a pyvenv.cfg whose `home` is a relative path (a
 *     pydepot environment in the shared layout) is resolved against the
 *     real folder of that pyvenv.cfg (as PEP 796 proposes for 3.15), and the
 *     interpreter starts on that runtime with this environment as sys.prefix:
 *     a venv whose base is found by a relative path, wherever the depot is.
 */
#define _GNU_SOURCE 1 /* as pyconfig.h defines it */
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PYDEPOT_LIBPYTHON
#error "define PYDEPOT_LIBPYTHON as the file name of libpython, e.g. \"libpython3.12.so.1.0\""
#endif

/* snprintf that says whether everything fit: a path cut short could name
 * another file (its dirname an ancestor's pyvenv.cfg), so a caller never
 * uses a truncated result. */
__attribute__((format(printf, 3, 4))) static int fmt(char *out, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int n = vsnprintf(out, size, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= size) {
        if (size) out[0] = '\0';
        return 0;
    }
    return 1;
}

/* Variables that can only break this interpreter (another Python's home):
 * always set aside. */
static const char *const ALWAYS_ASIDE[] = {
    "PYTHONHOME", "PYTHONEXECUTABLE", "PYTHONPLATLIBDIR", "__PYVENV_LAUNCHER__", NULL,
};
/* Variables a host application sets for its own Python: set aside when they
 * hold what the launching host set, honoured when a process of this
 * environment changed them for its child (pip's build isolation passes its
 * build requirements through PYTHONPATH, test runners do the same). */
static const char *const HOST_ASIDE[] = {
    "PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONSAFEPATH", "PYTHONPYCACHEPREFIX", "PYTHONNOUSERSITE", NULL,
};

/* PYDEPOT_HOST_<NAME> records the host's value: "1<value>" or "0" (unset).
 * The first pydepot process started from outside writes it; its children
 * inherit it (the start-up hook puts the variable itself back). */
static void set_aside(const char *name, int always) {
    char key[96];
    if (!fmt(key, sizeof key, "PYDEPOT_HOST_%s", name)) return;
    const char *value = getenv(name);
    const char *stash = getenv(key);
    if (value == NULL) {
        if (stash == NULL || always) setenv(key, "0", 1);
        else if (stash[0] == '1') setenv(key, "0", 1); /* a parent removed it on purpose */
        return;
    }
    if (!always && stash != NULL && !(stash[0] == '1' && strcmp(stash + 1, value) == 0)) return; /* set by a parent: honour */
    size_t n = strlen(value) + 2;
    char *recorded = malloc(n);
    if (recorded == NULL) return;
    if (fmt(recorded, n, "1%s", value)) setenv(key, recorded, 1);
    free(recorded);
    unsetenv(name);
}

static void set_host_variables_aside(void) {
    for (const char *const *name = ALWAYS_ASIDE; *name; name++) set_aside(*name, 1);
    for (const char *const *name = HOST_ASIDE; *name; name++) set_aside(*name, 0);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The path this process was started as, like CPython's getpath: argv[0] if it
 * has a slash, else the first match on PATH; "" when it cannot be resolved. */
static void invoked_path(const char *argv0, char *out, size_t size) {
    out[0] = '\0';
    if (argv0 == NULL || argv0[0] == '\0') return;
    if (strchr(argv0, '/')) {
        if (argv0[0] == '/') {
            fmt(out, size, "%s", argv0);
        } else {
            char cwd[PATH_MAX];
            if (getcwd(cwd, sizeof cwd)) fmt(out, size, "%s/%s", cwd, argv0);
        }
        return; /* too long: unresolved, "" */
    }
    const char *path = getenv("PATH");
    if (path == NULL) return;
    char candidate[PATH_MAX];
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len < INT_MAX && fmt(candidate, sizeof candidate, "%.*s/%s", (int)len, path, argv0)) {
            if (is_file(candidate) && access(candidate, X_OK) == 0) {
                fmt(out, size, "%s", candidate);
                return;
            }
        }
        if (!end) break;
        path = end + 1;
    }
}

static void dirname_in_place(char *p) {
    char *slash = strrchr(p, '/');
    if (slash == NULL) p[0] = '\0';
    else if (slash == p) p[1] = '\0';
    else *slash = '\0';
}

/* `home = <dir>` of the pyvenv.cfg next to or above `exe`, if there is one:
 * 1 found, 0 none, -1 a path or value too long to hold (never truncated).
 * `cfg_dir` (PATH_MAX) receives the folder holding that pyvenv.cfg. The file
 * is read by whole lines, as CPython's getpath reads it: a line longer than
 * any buffer is one line, never a second `key = value`. */
static int venv_home(const char *exe, char *home, size_t size, char *cfg_dir) {
    char dir[PATH_MAX], cfg[PATH_MAX + 16];
    if (!fmt(dir, sizeof dir, "%s", exe)) return -1;
    for (int up = 0; up < 2; up++) {
        dirname_in_place(dir);
        if (dir[0] == '\0') return 0;
        if (!fmt(cfg, sizeof cfg, "%s/pyvenv.cfg", strcmp(dir, "/") == 0 ? "" : dir)) return -1;
        FILE *f = fopen(cfg, "re");
        if (f == NULL) continue;
        char *line = NULL;
        size_t capacity = 0;
        ssize_t length;
        int found = 0;
        while (!found && (length = getline(&line, &capacity, f)) >= 0) {
            if (memchr(line, '\0', (size_t)length)) continue; /* not a text line */
            char *eq = strchr(line, '=');
            if (eq == NULL) continue;
            char *key = line, *key_end = eq;
            while (*key == ' ' || *key == '\t') key++;
            while (key_end > key && (key_end[-1] == ' ' || key_end[-1] == '\t')) key_end--;
            if ((size_t)(key_end - key) != 4 || strncasecmp(key, "home", 4) != 0) continue;
            char *value = eq + 1;
            while (*value == ' ' || *value == '\t') value++;
            size_t n = strcspn(value, "\r\n");
            while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t')) n--;
            if (n >= size || n > INT_MAX) found = -1;
            else found = fmt(home, size, "%.*s", (int)n, value) && home[0] != '\0';
        }
        free(line);
        fclose(f);
        if (found == 1 && !fmt(cfg_dir, PATH_MAX, "%s", dir)) return -1;
        return found;
    }
    return 0;
}

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "pydepot launcher: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 127;
}

typedef void (*init_config_t)(PyConfig *);
typedef PyStatus (*set_argv_t)(PyConfig *, Py_ssize_t, char *const *);
typedef PyStatus (*set_string_t)(PyConfig *, wchar_t **, const char *);
typedef PyStatus (*initialize_t)(const PyConfig *);
typedef int (*status_exception_t)(PyStatus);
typedef void (*exit_status_t)(PyStatus);
typedef void (*clear_config_t)(PyConfig *);
typedef int (*run_main_t)(void);

#define TOO_LONG(what) fail("a path is too long", what)

int main(int argc, char **argv) {
    char self[PATH_MAX], invoked[PATH_MAX], resolved[PATH_MAX], executable[PATH_MAX * 2], home[PATH_MAX], lib[PATH_MAX * 2];
    char cfg_dir[PATH_MAX], runtime[PATH_MAX], base_executable[PATH_MAX * 2];
    if (realpath("/proc/self/exe", self) == NULL) return fail("cannot resolve /proc/self/exe", strerror(errno));
    invoked_path(argc > 0 ? argv[0] : NULL, invoked, sizeof invoked);
    /* argv[0] is trusted only when it leads to this very file. */
    int trusted = invoked[0] != '\0' && realpath(invoked, resolved) != NULL && strcmp(resolved, self) == 0;

    /* sys.executable: the name it was started as (bin/python, a symlink
     * next to a ._pth file), in its folder's real path, so `current` and
     * any other folder symlink are resolved once, at start-up. */
    {
        char dir[PATH_MAX], real_dir[PATH_MAX];
        if (!fmt(dir, sizeof dir, "%s", invoked)) return TOO_LONG(invoked);
        dirname_in_place(dir);
        if (trusted && realpath(dir, real_dir) != NULL) {
            if (!fmt(executable, sizeof executable, "%s/%s", real_dir, strrchr(invoked, '/') + 1)) return TOO_LONG(real_dir);
        } else if (!fmt(executable, sizeof executable, "%s", self)) return TOO_LONG(self);
    }
    /* A venv made from this interpreter: CPython's own venv logic applies,
     * and libpython is the one of the interpreter the venv was made from.
     * A relative home: a pydepot environment on a shared runtime. */
    int has_cfg = venv_home(executable, home, sizeof home, cfg_dir);
    if (has_cfg < 0) return TOO_LONG(executable);
    /* Started through a link from elsewhere (a file symlink in ~/bin, a
     * symlink in a temp folder, a tool's own bin/): the environment this file
     * belongs to decides, and sys.executable is this file in it, so site.py
     * finds its pyvenv.cfg and the environment's packages (normal venv
     * semantics), as if it had been started from there. */
    if (!has_cfg) {
        has_cfg = venv_home(self, home, sizeof home, cfg_dir);
        if (has_cfg < 0) return TOO_LONG(self);
        if (has_cfg && !fmt(executable, sizeof executable, "%s", self)) return TOO_LONG(self);
    }
    int shared = has_cfg && home[0] != '/';
    int in_venv = 0;
    if (!shared && trusted) {
        in_venv = venv_home(invoked, home, sizeof home, cfg_dir);
        if (in_venv < 0) return TOO_LONG(invoked);
    }
    if (shared) {
        char wanted[PATH_MAX * 2];
        if (!fmt(wanted, sizeof wanted, "%s/%s", cfg_dir, home)) return TOO_LONG(cfg_dir);
        if (realpath(wanted, runtime) == NULL) {
            fprintf(stderr, "pydepot launcher: the runtime of this environment is missing: %s (home = %s in %s/pyvenv.cfg): %s\n", wanted, home, cfg_dir, strerror(errno));
            fprintf(stderr, "hint: the depot holds each Python once, beside the environments (_runtimes/): copy or sync the whole depot folder, not one environment's folder\n");
            return 127;
        }
        /* runtime is <runtime>/bin: the runtime's own interpreter and prefix. */
        if (!fmt(base_executable, sizeof base_executable, "%s/%s", runtime, strrchr(self, '/') + 1)) return TOO_LONG(runtime);
        if (!fmt(home, sizeof home, "%s", runtime)) return TOO_LONG(runtime);
    } else if (!in_venv) {
        if (!fmt(home, sizeof home, "%s", self)) return TOO_LONG(self);
        dirname_in_place(home);
    }
    if (!fmt(lib, sizeof lib, "%s/../lib/%s", home, PYDEPOT_LIBPYTHON)) return TOO_LONG(home);
    set_host_variables_aside();

    /* libpython only from the resolved runtime (or, in a venv made with
     * --copies, from the `home` it records): never by soname, which would
     * search LD_LIBRARY_PATH and could load a host application's libpython
     * (Maya and Houdini ship one) under this environment's stdlib. */
    void *python = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (python == NULL) {
        const char *error = dlerror();
        fprintf(stderr, "pydepot launcher: cannot load libpython %s: %s\n", lib, error ? error : "unknown error");
        fprintf(stderr, "hint: the runtime may be damaged or incompletely synced: run `nx run <env>:verify` (it names the damaged file), or sync the depot again\n");
        return 127;
    }
#define SYMBOL(type, name)                                       \
    type name = (type)dlsym(python, #name);                      \
    if (name == NULL) return fail("libpython lacks", #name);
    SYMBOL(init_config_t, PyConfig_InitPythonConfig)
    SYMBOL(set_argv_t, PyConfig_SetBytesArgv)
    SYMBOL(set_string_t, PyConfig_SetBytesString)
    SYMBOL(initialize_t, Py_InitializeFromConfig)
    SYMBOL(status_exception_t, PyStatus_Exception)
    SYMBOL(exit_status_t, Py_ExitStatusException)
    SYMBOL(clear_config_t, PyConfig_Clear)
    SYMBOL(run_main_t, Py_RunMain)
#undef SYMBOL

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.user_site_directory = 0;
    PyStatus status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (PyStatus_Exception(status)) goto failed;
    if (!in_venv) {
        status = PyConfig_SetBytesString(&config, &config.executable, executable);
        if (PyStatus_Exception(status)) goto failed;
    }
    if (shared) {
        /* The runtime is the home (prefix, stdlib); site.py then finds this
         * environment's pyvenv.cfg beside sys.executable and makes it
         * sys.prefix, as in any venv. A set home also keeps getpath from
         * reading the relative `home` against the current folder. */
        char prefix[PATH_MAX];
        if (!fmt(prefix, sizeof prefix, "%s", home)) return TOO_LONG(home);
        dirname_in_place(prefix);
        status = PyConfig_SetBytesString(&config, &config.home, prefix);
        if (PyStatus_Exception(status)) goto failed;
#if PY_VERSION_HEX >= 0x030A0000 /* PyConfig.base_executable: 3.10+ */
        status = PyConfig_SetBytesString(&config, &config.base_executable, base_executable);
        if (PyStatus_Exception(status)) goto failed;
#endif
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) goto failed;
    PyConfig_Clear(&config);
    return Py_RunMain();

failed:
    PyConfig_Clear(&config);
    Py_ExitStatusException(status);
    return 1;
}
