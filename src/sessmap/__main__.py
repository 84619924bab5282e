from sessmap.cli import main

main()
