"""`python -m fp8jit ARGS...` (and the `fp8jit` console script): runs the `fp8jit` command that the
package ships (fp8jit/bin/fp8jit) with ARGS, in place of this process."""
import os
import sys

from ._lib import COMMAND_PATH


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if not os.access(COMMAND_PATH, os.X_OK):
        sys.stderr.write(f"fp8jit: the command {COMMAND_PATH} is missing or not executable: "
                         "install the package with `pip install .` from the repository root\n")
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    # NOTE: the full path as argv[0]: the command finds its tuned tables beside its own file.
    os.execv(COMMAND_PATH, [COMMAND_PATH] + args)


if __name__ == "__main__":
    sys.exit(main())
