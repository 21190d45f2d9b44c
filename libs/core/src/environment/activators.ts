import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EnvironmentLayout } from './layout';

/**
 * Activation scripts that find the environment from their own location, so
 * they work wherever the depot is mounted. They put the scripts folder first
 * on PATH and shut out the user's own site-packages (PYTHONNOUSERSITE), so a
 * tool sees exactly the packages that were published. VIRTUAL_ENV is not set:
 * this is not a venv, and tools that see VIRTUAL_ENV look for pyvenv.cfg.
 */
export function activatorFiles(layout: EnvironmentLayout, name: string): Record<string, string> {
  const scripts = layout.scriptsDir;
  if (layout.os === 'windows') {
    return {
      [`${scripts}/activate.bat`]: ACTIVATE_BAT.replace(/@NAME@/g, name).replace(/\n/g, '\r\n'),
      [`${scripts}/deactivate.bat`]: DEACTIVATE_BAT.replace(/\n/g, '\r\n'),
      [`${scripts}/Activate.ps1`]: ACTIVATE_PS1.replace(/@NAME@/g, name).replace(/\n/g, '\r\n'),
    };
  }
  return {
    [`${scripts}/activate`]: ACTIVATE_SH.replace(/@NAME@/g, name),
    [`${scripts}/activate.fish`]: ACTIVATE_FISH.replace(/@NAME@/g, name),
  };
}

export async function writeActivators(root: string, layout: EnvironmentLayout, name: string): Promise<string[]> {
  const files = activatorFiles(layout, name);
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(root, ...rel.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.pydepot-tmp`;
    await fs.writeFile(tmp, text, { mode: 0o644 });
    await fs.rename(tmp, file);
  }
  return Object.keys(files);
}

const ACTIVATE_SH = `# Source this file from bash or zsh:  . /path/to/@NAME@/bin/activate
# It finds the environment from its own location; nothing in it is absolute.
if [ -n "\${BASH_SOURCE:-}" ]; then
    _pydepot_self="\${BASH_SOURCE[0]}"
elif [ -n "\${ZSH_VERSION:-}" ]; then
    _pydepot_self="\${(%):-%x}"
else
    echo "activate: source it from bash or zsh" >&2
    return 1 2>/dev/null || exit 1
fi

deactivate () {
    if [ -n "\${_PYDEPOT_OLD_PATH+set}" ]; then
        PATH="$_PYDEPOT_OLD_PATH"; export PATH; unset _PYDEPOT_OLD_PATH
    fi
    if [ -n "\${_PYDEPOT_OLD_PYTHONNOUSERSITE+set}" ]; then
        PYTHONNOUSERSITE="$_PYDEPOT_OLD_PYTHONNOUSERSITE"; export PYTHONNOUSERSITE
        unset _PYDEPOT_OLD_PYTHONNOUSERSITE
    else
        unset PYTHONNOUSERSITE
    fi
    if [ -n "\${_PYDEPOT_OLD_PS1+set}" ]; then
        PS1="$_PYDEPOT_OLD_PS1"; export PS1; unset _PYDEPOT_OLD_PS1
    fi
    unset PYDEPOT_ENV PYDEPOT_ENV_NAME
    hash -r 2>/dev/null
    [ "\${1:-}" = "nondestructive" ] || unset -f deactivate
}
deactivate nondestructive

# The version folder itself (pwd -P resolves "current"): the shell keeps running the
# version it activated, whatever a publish does to "current"; activate again to move on.
PYDEPOT_ENV="$(cd "$(dirname "$_pydepot_self")/.." && pwd -P)"
PYDEPOT_ENV_NAME="@NAME@"
export PYDEPOT_ENV PYDEPOT_ENV_NAME
unset _pydepot_self

_PYDEPOT_OLD_PATH="$PATH"
PATH="$PYDEPOT_ENV/bin:$PATH"
export PATH
if [ -n "\${PYTHONNOUSERSITE+set}" ]; then _PYDEPOT_OLD_PYTHONNOUSERSITE="$PYTHONNOUSERSITE"; fi
PYTHONNOUSERSITE=1
export PYTHONNOUSERSITE
if [ -z "\${PYDEPOT_DISABLE_PROMPT:-}" ]; then
    _PYDEPOT_OLD_PS1="\${PS1:-}"
    PS1="(@NAME@) \${PS1:-}"
    export PS1
fi
hash -r 2>/dev/null
`;

const ACTIVATE_FISH = `# Source this file from fish:  source /path/to/@NAME@/bin/activate.fish
function deactivate -d "Leave the pydepot environment"
    if set -q _PYDEPOT_OLD_PATH
        set -gx PATH $_PYDEPOT_OLD_PATH
        set -e _PYDEPOT_OLD_PATH
    end
    if set -q _PYDEPOT_OLD_PYTHONNOUSERSITE
        set -gx PYTHONNOUSERSITE $_PYDEPOT_OLD_PYTHONNOUSERSITE
        set -e _PYDEPOT_OLD_PYTHONNOUSERSITE
    else
        set -e PYTHONNOUSERSITE
    end
    set -e PYDEPOT_ENV
    set -e PYDEPOT_ENV_NAME
    if test "$argv[1]" != "nondestructive"
        functions -e deactivate
    end
end
deactivate nondestructive

set -gx PYDEPOT_ENV (builtin realpath (dirname (status --current-filename))/..)
set -gx PYDEPOT_ENV_NAME "@NAME@"
set -gx _PYDEPOT_OLD_PATH $PATH
set -gx PATH "$PYDEPOT_ENV/bin" $PATH
if set -q PYTHONNOUSERSITE
    set -gx _PYDEPOT_OLD_PYTHONNOUSERSITE $PYTHONNOUSERSITE
end
set -gx PYTHONNOUSERSITE 1
`;

const ACTIVATE_BAT = `@echo off
rem Activates the pydepot environment @NAME@ from wherever this file is.
call "%~dp0deactivate.bat" >nul 2>&1
for %%I in ("%~dp0..") do set "PYDEPOT_ENV=%%~fI"
set "PYDEPOT_ENV_NAME=@NAME@"
set "_PYDEPOT_OLD_PATH=%PATH%"
set "PATH=%PYDEPOT_ENV%;%PYDEPOT_ENV%\\Scripts;%PATH%"
if defined PYTHONNOUSERSITE set "_PYDEPOT_OLD_PYTHONNOUSERSITE=%PYTHONNOUSERSITE%"
set "PYTHONNOUSERSITE=1"
if not defined PYDEPOT_DISABLE_PROMPT (
    set "_PYDEPOT_OLD_PROMPT=%PROMPT%"
    set "PROMPT=(@NAME@) %PROMPT%"
)
`;

const DEACTIVATE_BAT = `@echo off
if defined _PYDEPOT_OLD_PATH (
    set "PATH=%_PYDEPOT_OLD_PATH%"
    set _PYDEPOT_OLD_PATH=
)
if defined _PYDEPOT_OLD_PROMPT (
    set "PROMPT=%_PYDEPOT_OLD_PROMPT%"
    set _PYDEPOT_OLD_PROMPT=
)
set PYTHONNOUSERSITE=
if defined _PYDEPOT_OLD_PYTHONNOUSERSITE (
    set "PYTHONNOUSERSITE=%_PYDEPOT_OLD_PYTHONNOUSERSITE%"
    set _PYDEPOT_OLD_PYTHONNOUSERSITE=
)
set PYDEPOT_ENV=
set PYDEPOT_ENV_NAME=
`;

const ACTIVATE_PS1 = `# Activates the pydepot environment @NAME@ from wherever this file is:
#   . \\\\studio\\tools\\@NAME@\\current\\Scripts\\Activate.ps1
function global:deactivate([switch] $NonDestructive) {
    if (Test-Path variable:global:_PYDEPOT_OLD_PATH) {
        $env:PATH = $global:_PYDEPOT_OLD_PATH
        Remove-Variable -Name _PYDEPOT_OLD_PATH -Scope Global
    }
    if (Test-Path variable:global:_PYDEPOT_OLD_PYTHONNOUSERSITE) {
        $env:PYTHONNOUSERSITE = $global:_PYDEPOT_OLD_PYTHONNOUSERSITE
        Remove-Variable -Name _PYDEPOT_OLD_PYTHONNOUSERSITE -Scope Global
    } else {
        Remove-Item env:PYTHONNOUSERSITE -ErrorAction SilentlyContinue
    }
    if (Test-Path function:global:_pydepot_old_prompt) {
        Copy-Item function:global:_pydepot_old_prompt function:global:prompt
        Remove-Item function:global:_pydepot_old_prompt
    }
    Remove-Item env:PYDEPOT_ENV -ErrorAction SilentlyContinue
    Remove-Item env:PYDEPOT_ENV_NAME -ErrorAction SilentlyContinue
    if (-not $NonDestructive) { Remove-Item function:global:deactivate }
}
deactivate -NonDestructive

$env:PYDEPOT_ENV = (Resolve-Path (Join-Path $PSScriptRoot "..")).Path
$env:PYDEPOT_ENV_NAME = "@NAME@"
$global:_PYDEPOT_OLD_PATH = $env:PATH
$env:PATH = "$($env:PYDEPOT_ENV);$($env:PYDEPOT_ENV)\\Scripts;$($env:PATH)"
if (Test-Path env:PYTHONNOUSERSITE) { $global:_PYDEPOT_OLD_PYTHONNOUSERSITE = $env:PYTHONNOUSERSITE }
$env:PYTHONNOUSERSITE = "1"
if (-not $env:PYDEPOT_DISABLE_PROMPT) {
    Copy-Item function:global:prompt function:global:_pydepot_old_prompt
    function global:prompt { Write-Host -NoNewline "(@NAME@) "; _pydepot_old_prompt }
}
`;
