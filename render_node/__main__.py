import sys

from render_node.cli import main

sys.exit(main())
