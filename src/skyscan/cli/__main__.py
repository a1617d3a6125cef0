from skyscan.cli import main

main()
