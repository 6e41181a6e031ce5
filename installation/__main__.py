from installation.cli import main

raise SystemExit(main())
