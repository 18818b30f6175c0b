from polyglot_kd.cli import main
import sys
sys.exit(main())
