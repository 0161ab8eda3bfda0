# Sourced by the bench scripts: the one c-icap srv_echo configuration they all measure against
# (../shared/interop/c-icap.conf, with unlimited keep-alive requests like dlpgate and no access
# log, so neither side pays for reconnects or logging).
#
#   c_icap_bench_conf RUN_DIR PORT [EXTRA_LINE...] > RUN_DIR/c-icap.conf

# The folder holding c-icap's srv_echo.so: Debian's multiarch one, or a plain one.
c_icap_modules() {
  local so
  for so in /usr/lib/*/c_icap/srv_echo.so /usr/lib/c_icap/srv_echo.so /usr/lib64/c_icap/srv_echo.so \
    /usr/local/lib/c_icap/srv_echo.so; do
    if [ -e "$so" ]; then
      dirname "$so"
      return
    fi
  done
  echo "c-icap's srv_echo.so is not installed (apt-get install c-icap)" >&2
  return 1
}
c_icap_bench_conf() {
  local run=$1 port=$2 modules
  shift 2
  modules=$(c_icap_modules)
  cat <<CONF
PidFile $run/c-icap.pid
CommandsSocket $run/c-icap.ctl
Port 127.0.0.1:$port
Timeout 300
MaxKeepAliveRequests 0
KeepAliveTimeout 600
StartServers 3
MaxServers 10
MinSpareThreads 10
MaxSpareThreads 20
ThreadsPerChild 10
MaxRequestsPerChild 0
TmpDir $run
MaxMemObject 131072
DebugLevel 0
Pipelining on
ModulesDir $modules
ServicesDir $modules
ServerLog $run/c-icap.log
AccessLog /dev/null
Service echo srv_echo.so
CONF
  local line
  for line in "$@"; do
    printf '%s\n' "$line"
  done
}

# Waits until every given loopback port accepts a connection (at most 30 s each): under load
# a fixed sleep was not always long enough for c-icap to listen.
wait_ports() {
  local port tries
  for port in "$@"; do
    tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      tries=$((tries + 1))
      if [ $tries -ge 300 ]; then
        echo "nothing listens on 127.0.0.1:$port after 30 s" >&2
        return 1
      fi
      sleep 0.1
    done
  done
}
