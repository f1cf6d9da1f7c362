from mochinushi.cli import main

main()
