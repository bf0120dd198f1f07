# Sourced by ./moge, ./test and .ci/run: finds a JDK >= 25 and exports JAVA_HOME and PATH for it.
# Order: $JAVA_HOME if it is new enough, then /usr/lib/jvm/*25* and any newer JDK found there.
moge_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}'
}
moge_find_jdk() {
  local c v
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/*; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    v=$(moge_java_major "$c")
    case "$v" in ''|*[!0-9]*) continue ;; esac
    if [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
  done
  return 1
}
if ! MOGE_JDK=$(moge_find_jdk); then
  echo "moge: no JDK >= 25 found (set JAVA_HOME, or install Temurin 25 under /usr/lib/jvm)" >&2
  exit 1
fi
export JAVA_HOME="$MOGE_JDK"
export PATH="$JAVA_HOME/bin:$PATH"
# Maven's own libraries still touch sun.misc.Unsafe; keep its warnings out of our output.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
