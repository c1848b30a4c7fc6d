"""``python -m pyvirt.virsh``: the pyvirsh command."""

import sys

from pyvirt.virsh.main import main

sys.exit(main())
