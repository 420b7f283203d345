"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test creates each sanity test's virtualenv without pip, then runs a get-pip.py script that
it downloads from a CI file host (not PyPI) and caches as ~/.ansible/test/cache/get_pip_<X_Y>.py.
Where that host is unreachable, ansible-test stops and asks for the script to be saved there by
hand. tools/sanity.sh saves this file there instead.

It does what get-pip.py does: put a pip wheel on sys.path and run
``pip install --upgrade --force-reinstall <requested pip>``. The only difference is where that
first pip comes from: get-pip.py embeds one, this script takes the one bundled with Python's own
ensurepip. The pip ansible-test asks for (for example pip==24.2) is then installed from the package
index as configured for pip, exactly as get-pip.py would, so the resulting virtualenv is the same.
Like get-pip.py it accepts --no-setuptools and --no-wheel.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

# Marks this file as the stand-in, so tools/sanity.sh never overwrites a genuine get-pip.py.
PYOPS_OFFLINE_GET_PIP = True


def bundled_pip_wheel():
    """Return the path of the pip wheel that ships with this Python's ensurepip."""
    import ensurepip  # pylint: disable=import-outside-toplevel

    candidates = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))
    # Debian's python3 keeps ensurepip's wheels outside the standard library.
    candidates += glob.glob('/usr/share/python-wheels/pip-*.whl')

    if not candidates:
        sys.exit('ansible_test_get_pip: no pip wheel bundled with ensurepip was found '
                 '(on Debian: apt-get install python3-venv)')

    return candidates[0]


def pip_install_arguments(argv):
    """Translate get-pip.py's command line into pip's, as get-pip.py does."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--no-setuptools', action='store_true')
    parser.add_argument('--no-wheel', action='store_true')
    known, rest = parser.parse_known_args(argv)

    requested = [arg for arg in rest if not arg.startswith('-')]
    names = {arg.split('=')[0].split('<')[0].split('>')[0].strip().lower() for arg in requested}

    if 'pip' not in names:
        rest.append('pip')

    if not known.no_setuptools and 'setuptools' not in names:
        rest.append('setuptools')

    if not known.no_wheel and 'wheel' not in names:
        rest.append('wheel')

    return ['install', '--upgrade', '--force-reinstall'] + rest


def main():
    """Install the requested pip with the pip that ensurepip bundles."""
    sys.path.insert(0, bundled_pip_wheel())

    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel,import-error

    sys.exit(pip_main(pip_install_arguments(sys.argv[1:])))


if __name__ == '__main__':
    main()
