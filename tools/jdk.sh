# Sourced by ./specula, tools/run-tests and the other tools: finds a JDK >= 25 without trusting
# PATH's java (on the development machines that is 17). Prints its home on stdout.
#   SPECULA_MIN_JAVA  minimum feature version (default 25)

specula_java_feature() { # $1 = a JDK home; prints its feature version (25 for 25.0.1) or nothing
  local home="$1" v=""
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$home/release" | head -n 1)
  fi
  if [ -z "$v" ] && [ -x "$home/bin/java" ]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -n 1)
  fi
  printf '%s' "$v"
}

specula_find_jdk() {
  local min="${SPECULA_MIN_JAVA:-25}" best="" best_v=0 cand v
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for cand in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* \
              "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$cand" ] && candidates+=("$cand")
  done
  for cand in "${candidates[@]}"; do
    [ -x "$cand/bin/java" ] || continue
    v=$(specula_java_feature "$cand")
    [ -n "$v" ] || continue
    # JAVA_HOME wins when it is new enough; otherwise the newest JDK found.
    if [ "$cand" = "${JAVA_HOME:-}" ] && [ "$v" -ge "$min" ]; then best="$cand"; break; fi
    if [ "$v" -ge "$min" ] && [ "$v" -gt "$best_v" ]; then best="$cand"; best_v="$v"; fi
  done
  if [ -z "$best" ]; then
    echo "specula: no JDK >= $min found (looked at JAVA_HOME, PATH and the usual install folders); install one (e.g. Temurin 25) or set JAVA_HOME" >&2
    return 1
  fi
  printf '%s\n' "$best"
}

# Maven, installed from Debian's packages when missing and we may (CI machines start bare).
specula_ensure_maven() {
  command -v mvn >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "specula: installing Maven (apt-get install maven)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven) >&2 || return 1
    return 0
  fi
  echo "specula: Maven (mvn) is needed to build; install Apache Maven 3.8 or newer" >&2
  return 1
}
