from keras_segen.cli import main

raise SystemExit(main())
