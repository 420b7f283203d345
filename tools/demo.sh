#!/usr/bin/env bash
# The main job: deploy the example app with the role to a local systemd test host and show it serving.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HOST=${PYOPS_UWSGI_DEMO_HOST:-pyops-uwsgi-demo}

bash tools/setup.sh
# shellcheck source=tools/env.sh
source tools/env.sh
bash tools/testhost.sh up bookworm
bash tools/testhost.sh run "$HOST"

ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
  ansible-playbook -i "$HOST," -c community.docker.docker examples/single_host.yml

echo
echo "== systemctl status uwsgi-hello (inside $HOST)"
docker exec "$HOST" systemctl status uwsgi-hello.service --no-pager --lines 0 || true
echo
echo "== ps (inside $HOST)"
docker exec "$HOST" ps -o pid,user,args -u uwsgi
echo
echo "== GET http://127.0.0.1:8080/ from inside $HOST"
docker exec "$HOST" python3 -c 'import urllib.request as u; r = u.urlopen("http://127.0.0.1:8080/"); print(r.status, r.read().decode().strip())'
echo
echo "The test host keeps running: docker exec -it $HOST bash"
echo "Remove it with: docker rm -f $HOST && bash tools/testhost.sh down"
