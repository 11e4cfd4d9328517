#!/bin/sh
# A deliberately wrong ipvsadm for the negative control of ipvsadm-compat.sh:
# the real ipvsadm, but listings say "Tunnel" where they should say "Route".
/usr/sbin/ipvsadm "$@" > /tmp/skewed.out
rc=$?
sed 's/Route/Tunnel/' /tmp/skewed.out
exit $rc
