export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl 2>&1 | tail -3
SP=$(python3 -c 'import site;print(site.getsitepackages()[0])'); echo "$PWD" > "$SP/ffnn-lab-dev.pth"
if ! command -v bwrap >/dev/null; then chmod +x .gpu/bin/bwrap; ldd .gpu/bin/bwrap | grep -q 'not found' && export LD_LIBRARY_PATH=$PWD/.gpu/lib; export PATH=$PWD/.gpu/bin:$PATH; fi
L="from ffnn_lab.grading import cgroups as c; print('groups:', c.unavailable() or c.layout(), flush=True)"
echo "== 1. grader not alone in its group: groups at the top"
timeout 60 python3 -c "$L; import pytest, sys; sys.exit(pytest.main(['tests/test_grading_cgroups.py', '-q', '-p', 'no:cacheprovider']))" 2>&1 | tail -4
ls -d /sys/fs/cgroup/ffnn-lab-* 2>&1 | head -3
echo "== 2. grader alone in a group of its own: a leaf there, groups beside it"
mkdir /sys/fs/cgroup/grading-test
timeout 150 sh -c "echo \$\$ > /sys/fs/cgroup/grading-test/cgroup.procs && exec python3 -c \"$L; import pytest, sys; sys.exit(pytest.main(['tests/test_grading_cgroups.py', 'tests/test_grading_sandbox.py', '-k', 'cgroups or hog', '-q', '-rs', '-p', 'no:cacheprovider']))\"" 2>&1 | tail -6
ls /sys/fs/cgroup/grading-test | grep ffnn; cat /sys/fs/cgroup/grading-test/cgroup.subtree_control
