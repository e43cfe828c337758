from nvr_sim.cli import main

raise SystemExit(main())
