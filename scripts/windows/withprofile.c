/* withprofile.exe PROFILE COMMAND [ARGS...]: run COMMAND with PROFILE as the Windows user profile.
 *
 * wine sets USERPROFILE, APPDATA and LOCALAPPDATA from its prefix whatever the calling Linux
 * environment says, so a test cannot give a Windows program a profile of its own from outside.
 * This launcher sets them (as Windows lays them out under the profile), and makes platformdirs'
 * known-folder lookup (which wine answers from the prefix) agree through its WIN_PD_OVERRIDE_*
 * variables, as the two agree on a real Windows. It then runs COMMAND with the rest
 * of its own command line passed on untouched (quoting included), and exits with its exit code.
 */
#include <windows.h>
#include <wchar.h>

/* The command line after its first argument, parsed as the C runtime does (quotes group). */
static const wchar_t *skip_argument(const wchar_t *p)
{
    int quoted = 0;
    while (*p == L' ' || *p == L'\t')
        p++;
    for (; *p; p++) {
        if (*p == L'"')
            quoted = !quoted;
        else if (!quoted && (*p == L' ' || *p == L'\t'))
            break;
    }
    while (*p == L' ' || *p == L'\t')
        p++;
    return p;
}

static void set_folder(const wchar_t *name, const wchar_t *profile, const wchar_t *below)
{
    wchar_t value[32768];
    _snwprintf(value, 32768, L"%ls%ls", profile, below);
    value[32767] = 0;
    CreateDirectoryW(value, NULL); /* parents first: the calls below come in that order */
    if (name)
        SetEnvironmentVariableW(name, value);
}

int wmain(int argc, wchar_t **argv)
{
    if (argc < 3) {
        fwprintf(stderr, L"usage: withprofile PROFILE COMMAND [ARGS...]\n");
        return 2;
    }
    const wchar_t *profile = argv[1];
    set_folder(L"USERPROFILE", profile, L"");
    set_folder(NULL, profile, L"\\AppData");
    set_folder(L"APPDATA", profile, L"\\AppData\\Roaming");
    set_folder(L"LOCALAPPDATA", profile, L"\\AppData\\Local");
    set_folder(L"WIN_PD_OVERRIDE_APPDATA", profile, L"\\AppData\\Roaming");
    set_folder(L"WIN_PD_OVERRIDE_LOCAL_APPDATA", profile, L"\\AppData\\Local");

    wchar_t *command = _wcsdup(skip_argument(skip_argument(GetCommandLineW())));
    STARTUPINFOW startup = {sizeof startup};
    PROCESS_INFORMATION child;
    if (!CreateProcessW(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL, &startup, &child)) {
        fwprintf(stderr, L"withprofile: cannot start %ls (error %lu)\n", argv[2], GetLastError());
        return 127;
    }
    WaitForSingleObject(child.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(child.hProcess, &code);
    return (int)code;
}
