import sys

from showroom_client.cli import main

sys.exit(main())
