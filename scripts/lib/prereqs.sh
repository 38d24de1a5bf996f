# Shared by scripts/test, scripts/demo and scripts/bench: install what a fresh Debian machine lacks.
#
# - openssh-server (sshd for the tests' throwaway servers) and openssh-client (ssh -G, the
#   reference in benchmarks), pkg-config + libssl-dev (to build libssh2 with OpenSSL).
# - As root, a login user `scouttest` with /bin/sh as shell: sshd runs every command through the
#   user's login shell, and root's shell on these machines sources a heavy ~/.bashrc (pyenv init,
#   which can stall 60 s on a lock when shells start in parallel). Tests log in as this user
#   instead (testkit/src/sshd.rs picks it when running as root).

ensure_prereqs() {
    local need=()
    [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
    command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
    [ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
    if [ "${#need[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            echo "==> installing ${need[*]}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        else
            echo "missing: ${need[*]} — install them (e.g. sudo apt-get install ${need[*]})" >&2
            exit 1
        fi
    fi
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /run/sshd
        if ! id scouttest >/dev/null 2>&1; then
            echo "==> creating the test login user 'scouttest' (shell /bin/sh)"
            useradd -m -s /bin/sh scouttest
        fi
        # A fresh account's password is locked ('!'), which sshd refuses with UsePAM no.
        usermod -p '*' scouttest
    fi
}

# Python 3 with venv and ensurepip, for scripts/python-sdk (Debian splits them into python3-venv).
# Prints the interpreter to use.
ensure_python_venv() {
    local python=python3
    [ -x /usr/bin/python3 ] && python=/usr/bin/python3
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            echo "==> installing python3-venv" >&2
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
            python=/usr/bin/python3
        else
            echo "missing: python3-venv — install it (e.g. sudo apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
    echo "$python"
}
