from censorwatch.cli import main

main()
