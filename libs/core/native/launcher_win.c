/*
 * pydepot's interpreter launcher (Windows): Scripts\python.exe and
 * pythonw.exe of an environment in the shared layout, cross-compiled with
 * mingw-w64 against the runtime's own headers (docs/WINDOWS.md). The same
 * policy as the POSIX launcher (launcher.c):
 *
 *  1. Relative home: the `home` of the pyvenv.cfg beside this file (or one
 *     folder up) is resolved against that pyvenv.cfg's folder, never the
 *     current directory, so an environment runs from any drive letter or
 *     share path. CPython's own venv launcher resolves it against the
 *     current directory (No Python at '...').
 *  2. python3XY.dll is loaded by absolute path from the resolved runtime,
 *     its own dependencies (vcruntime140.dll) from its folder or System32
 *     only: never from PATH or the current directory, where a host
 *     application (3ds Max, Maya) keeps DLLs of its own Python.
 *  3. Hermetic: PYTHONHOME, PYTHONPATH & co. that the launching host set are
 *     moved aside (PYDEPOT_HOST_<NAME>) before start-up; pydepot's start-up
 *     hook puts them back for child processes. The user site is off.
 *  4. The stable path: copies of this file in `<depot>\<env>\Scripts\`
 *     (no pyvenv.cfg there; current.json one folder up) start the current
 *     version, read once at start-up: python.exe / pythonw.exe run in this
 *     process as `<env>\<version>\Scripts\python.exe`, any other name starts
 *     `<env>\<version>\Scripts\<name>.exe` and waits for it. Either way the
 *     process is pinned to the version it started on.
 *
 * Every path is built with a checked formatter (too long: an error, never a
 * truncated path); pyvenv.cfg and current.json are read as UTF-8 with a size
 * bound, as CPython reads pyvenv.cfg.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <Python.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#ifndef PYDEPOT_PYTHON_DLL
#error "define PYDEPOT_PYTHON_DLL as the runtime's DLL name, e.g. L\"python311.dll\""
#endif

#define MAXP 32768 /* the longest Windows path, in wide characters */
#define CFG_MAX (64 * 1024)

static int fmt(wchar_t *out, size_t size, const wchar_t *format, ...) {
    va_list args;
    va_start(args, format);
    int n = _vsnwprintf(out, size, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= size) {
        if (size) out[0] = L'\0';
        return 0;
    }
    out[n] = L'\0';
    return 1;
}

static int fail(const wchar_t *what, const wchar_t *detail) {
    fwprintf(stderr, L"pydepot launcher: %ls%ls%ls\n", what, detail ? L": " : L"", detail ? detail : L"");
    return 127;
}

static const wchar_t *const ALWAYS_ASIDE[] = {L"PYTHONHOME", L"PYTHONEXECUTABLE", L"PYTHONPLATLIBDIR", L"__PYVENV_LAUNCHER__", NULL};
static const wchar_t *const HOST_ASIDE[] = {L"PYTHONPATH", L"PYTHONSTARTUP", L"PYTHONUSERBASE", L"PYTHONSAFEPATH", L"PYTHONPYCACHEPREFIX", L"PYTHONNOUSERSITE", NULL};

/* A variable's value (malloc'ed) or NULL when unset. */
static wchar_t *get_env(const wchar_t *name) {
    DWORD n = GetEnvironmentVariableW(name, NULL, 0);
    if (n == 0) return NULL;
    wchar_t *value = malloc((size_t)n * sizeof(wchar_t));
    if (value == NULL) return NULL;
    DWORD got = GetEnvironmentVariableW(name, value, n);
    if (got == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND) {
        free(value);
        return NULL;
    }
    if (got >= n) {
        free(value);
        return NULL;
    }
    return value;
}

/* As launcher.c: PYDEPOT_HOST_<NAME> = "1<value>" or "0". Done with the
 * Win32 environment before python3XY.dll (and the C runtime it brings) is
 * loaded, so CPython's view of the environment is the one set here. */
static void set_aside(const wchar_t *name, int always) {
    wchar_t key[96];
    if (!fmt(key, 96, L"PYDEPOT_HOST_%ls", name)) return;
    wchar_t *value = get_env(name);
    wchar_t *stash = get_env(key);
    if (value == NULL) {
        if (stash == NULL || always || stash[0] == L'1') SetEnvironmentVariableW(key, L"0");
    } else if (always || stash == NULL || (stash[0] == L'1' && wcscmp(stash + 1, value) == 0)) {
        size_t n = wcslen(value) + 2;
        wchar_t *recorded = malloc(n * sizeof(wchar_t));
        if (recorded != NULL && fmt(recorded, n, L"1%ls", value)) SetEnvironmentVariableW(key, recorded);
        free(recorded);
        SetEnvironmentVariableW(name, NULL);
    }
    free(value);
    free(stash);
}

static void dirname_in_place(wchar_t *p) {
    wchar_t *slash = wcsrchr(p, L'\\');
    wchar_t *other = wcsrchr(p, L'/');
    if (other > slash) slash = other;
    if (slash == NULL) p[0] = L'\0';
    else *slash = L'\0';
}

static const wchar_t *basename_of(const wchar_t *p) {
    const wchar_t *slash = wcsrchr(p, L'\\');
    const wchar_t *other = wcsrchr(p, L'/');
    if (other > slash) slash = other;
    return slash ? slash + 1 : p;
}

static int is_file(const wchar_t *p) {
    DWORD a = GetFileAttributesW(p);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

/* A whole small text file as UTF-16 (malloc'ed), NULL when missing,
 * larger than CFG_MAX or not valid UTF-8. */
static wchar_t *read_text(const wchar_t *file) {
    HANDLE h = CreateFileW(file, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) return NULL;
    LARGE_INTEGER size;
    char *bytes = NULL;
    wchar_t *text = NULL;
    DWORD got = 0;
    if (!GetFileSizeEx(h, &size) || size.QuadPart > CFG_MAX) goto done;
    bytes = malloc((size_t)size.QuadPart + 1);
    if (bytes == NULL || !ReadFile(h, bytes, (DWORD)size.QuadPart, &got, NULL) || got != (DWORD)size.QuadPart) goto done;
    int start = (got >= 3 && (unsigned char)bytes[0] == 0xEF && (unsigned char)bytes[1] == 0xBB && (unsigned char)bytes[2] == 0xBF) ? 3 : 0;
    int n = got - start == 0 ? 0 : MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, bytes + start, (int)got - start, NULL, 0);
    if (got - start != 0 && n <= 0) goto done;
    text = malloc(((size_t)n + 1) * sizeof(wchar_t));
    if (text == NULL) goto done;
    if (n) MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, bytes + start, (int)got - start, text, n);
    text[n] = L'\0';
    if (wcslen(text) != (size_t)n) { /* an embedded NUL: not a text file */
        free(text);
        text = NULL;
    }
done:
    free(bytes);
    CloseHandle(h);
    return text;
}

/* `home` of the pyvenv.cfg beside `exe` or one folder up: 1 found, 0 none,
 * -1 too long. `cfg_dir` (MAXP) receives that pyvenv.cfg's folder. Lines as
 * CPython's getpath splits them; the key is case-insensitive. */
static int venv_home(const wchar_t *exe, wchar_t *home, size_t size, wchar_t *cfg_dir) {
    static wchar_t dir[MAXP], cfg[MAXP];
    if (!fmt(dir, MAXP, L"%ls", exe)) return -1;
    for (int up = 0; up < 2; up++) {
        dirname_in_place(dir);
        if (dir[0] == L'\0') return 0;
        if (!fmt(cfg, MAXP, L"%ls\\pyvenv.cfg", dir)) return -1;
        wchar_t *text = read_text(cfg);
        if (text == NULL) continue;
        int found = 0;
        for (wchar_t *line = text; line && *line && !found;) {
            wchar_t *end = line + wcscspn(line, L"\r\n");
            wchar_t *next = *end ? end + 1 : NULL;
            *end = L'\0';
            wchar_t *eq = wcschr(line, L'=');
            if (eq != NULL) {
                wchar_t *key = line, *key_end = eq;
                while (*key == L' ' || *key == L'\t') key++;
                while (key_end > key && (key_end[-1] == L' ' || key_end[-1] == L'\t')) key_end--;
                if (key_end - key == 4 && _wcsnicmp(key, L"home", 4) == 0) {
                    wchar_t *value = eq + 1;
                    while (*value == L' ' || *value == L'\t') value++;
                    size_t n = wcslen(value);
                    while (n > 0 && (value[n - 1] == L' ' || value[n - 1] == L'\t')) value[--n] = L'\0';
                    found = n == 0 ? 0 : fmt(home, size, L"%ls", value) ? 1 : -1;
                }
            }
            line = next;
        }
        free(text);
        if (found == 1 && !fmt(cfg_dir, MAXP, L"%ls", dir)) return -1;
        return found;
    }
    return 0;
}

/* The version current.json names: `{"version": "<name>", ...}`; only a plain
 * folder name (letters, digits, . _ -; not "." or ".."), never a path. */
static int current_version(const wchar_t *env_dir, wchar_t *version, size_t size) {
    static wchar_t file[MAXP];
    if (!fmt(file, MAXP, L"%ls\\current.json", env_dir)) return 0;
    wchar_t *text = read_text(file);
    if (text == NULL) return 0;
    int ok = 0;
    wchar_t *key = wcsstr(text, L"\"version\"");
    if (key != NULL) {
        wchar_t *p = key + 9;
        while (*p == L' ' || *p == L'\t' || *p == L'\r' || *p == L'\n') p++;
        if (*p == L':') {
            p++;
            while (*p == L' ' || *p == L'\t' || *p == L'\r' || *p == L'\n') p++;
            if (*p == L'"') {
                wchar_t *start = ++p;
                while ((*p >= L'a' && *p <= L'z') || (*p >= L'A' && *p <= L'Z') || (*p >= L'0' && *p <= L'9') || *p == L'.' || *p == L'_' || *p == L'-') p++;
                size_t n = (size_t)(p - start);
                if (*p == L'"' && n > 0 && n < size && !(n == 2 && start[0] == L'.' && start[1] == L'.') && !(n == 1 && start[0] == L'.')) {
                    ok = fmt(version, size, L"%.*ls", (int)n, start);
                }
            }
        }
    }
    free(text);
    return ok;
}

/* Start `target` with this process's command line and wait for it: the
 * stable path's console scripts. Ctrl+C reaches the child (same console);
 * this process ignores it and returns the child's exit code. */
static int forward(const wchar_t *target) {
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    ZeroMemory(&si, sizeof si);
    si.cb = sizeof si;
    GetStartupInfoW(&si);
    SetConsoleCtrlHandler(NULL, TRUE);
    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (job != NULL) {
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
        ZeroMemory(&limits, sizeof limits);
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK;
        SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits);
    }
    wchar_t *command_line = _wcsdup(GetCommandLineW());
    if (command_line == NULL) return fail(L"out of memory", NULL);
    if (!CreateProcessW(target, command_line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fwprintf(stderr, L"pydepot launcher: cannot start %ls (error %lu)\n", target, GetLastError());
        fwprintf(stderr, L"hint: the current version of this environment may be incompletely synced: sync the depot again, or ask the tools team to run `nx run <env>:verify-windows`\n");
        free(command_line);
        return 127;
    }
    free(command_line);
    if (job != NULL) AssignProcessToJobObject(job, pi.hProcess);
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    return (int)code;
}

typedef void (*init_config_t)(PyConfig *);
typedef PyStatus (*set_argv_t)(PyConfig *, Py_ssize_t, wchar_t *const *);
typedef PyStatus (*set_string_t)(PyConfig *, wchar_t **, const wchar_t *);
typedef PyStatus (*initialize_t)(const PyConfig *);
typedef int (*status_exception_t)(PyStatus);
typedef void (*exit_status_t)(PyStatus);
typedef void (*clear_config_t)(PyConfig *);
typedef int (*run_main_t)(void);

#define TOO_LONG(what) fail(L"a path is too long", what)

static wchar_t self[MAXP], executable[MAXP], home[MAXP], cfg_dir[MAXP], wanted[MAXP], runtime[MAXP], dll[MAXP], base_executable[MAXP];

int wmain(int argc, wchar_t **argv) {
    DWORD n = GetModuleFileNameW(NULL, self, MAXP);
    if (n == 0 || n >= MAXP) return fail(L"cannot find this program's own path", NULL);
    if (!fmt(executable, MAXP, L"%ls", self)) return TOO_LONG(self);

    int has_cfg = venv_home(executable, home, MAXP, cfg_dir);
    if (has_cfg < 0) return TOO_LONG(executable);
    if (!has_cfg) {
        /* The stable path: <env>\Scripts\<name>.exe beside <env>\current.json (only
         * there: a self-contained version's own python.exe sits in <env>\<version>\). */
        static wchar_t env_dir[MAXP], version[256], target[MAXP];
        if (!fmt(env_dir, MAXP, L"%ls", self)) return TOO_LONG(self);
        dirname_in_place(env_dir);
        int in_scripts = _wcsicmp(basename_of(env_dir), L"Scripts") == 0;
        dirname_in_place(env_dir);
        if (in_scripts && env_dir[0] != L'\0' && current_version(env_dir, version, 256)) {
            const wchar_t *name = basename_of(self);
            if (!fmt(target, MAXP, L"%ls\\%ls\\Scripts\\%ls", env_dir, version, name)) return TOO_LONG(env_dir);
            if (_wcsicmp(name, L"python.exe") != 0 && _wcsicmp(name, L"pythonw.exe") != 0) return forward(target);
            if (!fmt(executable, MAXP, L"%ls", target)) return TOO_LONG(target);
            has_cfg = venv_home(executable, home, MAXP, cfg_dir);
            if (has_cfg <= 0) return fail(L"the current version of this environment has no pyvenv.cfg", executable);
        }
    }
    int relative = has_cfg && !(home[0] == L'\\' || home[0] == L'/' || (home[0] && home[1] == L':'));
    if (has_cfg) {
        if (relative) {
            if (!fmt(wanted, MAXP, L"%ls\\%ls", cfg_dir, home)) return TOO_LONG(cfg_dir);
        } else if (!fmt(wanted, MAXP, L"%ls", home)) return TOO_LONG(home);
        DWORD got = GetFullPathNameW(wanted, MAXP, runtime, NULL);
        if (got == 0 || got >= MAXP) return TOO_LONG(wanted);
    } else {
        /* A self-contained environment: this file sits in its runtime. */
        if (!fmt(runtime, MAXP, L"%ls", self)) return TOO_LONG(self);
        dirname_in_place(runtime);
    }
    if (!fmt(dll, MAXP, L"%ls\\%ls", runtime, PYDEPOT_PYTHON_DLL)) return TOO_LONG(runtime);
    if (!is_file(dll)) {
        fwprintf(stderr, L"pydepot launcher: the runtime of this environment is missing: %ls", dll);
        if (has_cfg) fwprintf(stderr, L" (home = %ls in %ls\\pyvenv.cfg)", home, cfg_dir);
        fwprintf(stderr, L"\nhint: the depot holds each Python once, beside the environments (_runtimes\\): copy or sync the whole depot folder, not one environment's folder\n");
        return 127;
    }
    if (!fmt(base_executable, MAXP, L"%ls\\python.exe", runtime)) return TOO_LONG(runtime);

    for (const wchar_t *const *name = ALWAYS_ASIDE; *name; name++) set_aside(*name, 1);
    for (const wchar_t *const *name = HOST_ASIDE; *name; name++) set_aside(*name, 0);

    HMODULE python = LoadLibraryExW(dll, NULL, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (python == NULL) {
        fwprintf(stderr, L"pydepot launcher: cannot load %ls (error %lu)\n", dll, GetLastError());
        fwprintf(stderr, L"hint: the runtime may be damaged or incompletely synced: run `nx run <env>:verify-windows` (it names the damaged file), or sync the depot again\n");
        return 127;
    }
#define SYMBOL(type, name)                                             \
    type name = (type)(void (*)(void))GetProcAddress(python, #name);  \
    if (name == NULL) return fail(L"the Python DLL lacks", L## #name);
    SYMBOL(init_config_t, PyConfig_InitPythonConfig)
    SYMBOL(set_argv_t, PyConfig_SetArgv)
    SYMBOL(set_string_t, PyConfig_SetString)
    SYMBOL(initialize_t, Py_InitializeFromConfig)
    SYMBOL(status_exception_t, PyStatus_Exception)
    SYMBOL(exit_status_t, Py_ExitStatusException)
    SYMBOL(clear_config_t, PyConfig_Clear)
    SYMBOL(run_main_t, Py_RunMain)
#undef SYMBOL

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.user_site_directory = 0;
    PyStatus status = PyConfig_SetArgv(&config, argc, argv);
    if (PyStatus_Exception(status)) goto failed;
    status = PyConfig_SetString(&config, &config.executable, executable);
    if (PyStatus_Exception(status)) goto failed;
    /* The runtime is the home (prefix, stdlib, DLLs); site.py finds this
     * environment's pyvenv.cfg beside sys.executable and makes it
     * sys.prefix. A set home also keeps getpath from reading the relative
     * `home` against the current directory. */
    status = PyConfig_SetString(&config, &config.home, runtime);
    if (PyStatus_Exception(status)) goto failed;
    status = PyConfig_SetString(&config, &config.base_executable, base_executable);
    if (PyStatus_Exception(status)) goto failed;
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) goto failed;
    PyConfig_Clear(&config);
    return Py_RunMain();

failed:
    PyConfig_Clear(&config);
    Py_ExitStatusException(status);
    return 1;
}
